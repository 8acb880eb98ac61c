"""The admin key must be strong: ``teamgate serve`` refuses to start with a weak one.

Weak: shorter than 32 characters, a well-known placeholder (``changeme``,
``your-admin-key``, ...), or too few distinct characters (``aaaa…``,
``0123…`` repeated). Generate one with
``python -c "import secrets; print(secrets.token_urlsafe(32))"``.

>>> admin_key_problem("s3cret")
'is 6 characters long; it must have at least 32'
>>> admin_key_problem("changeme-changeme-changeme-changeme")
'is a well-known placeholder'
>>> admin_key_problem("Zr7Qk2mX9vLw4Tn8Bp1Hc6Yd3Fg5Js0A") is None
True
"""

from __future__ import annotations

import re

MIN_LENGTH = 32
MIN_DISTINCT = 10
GENERATE = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'

# Compared after lower-casing and dropping everything but letters and digits.
_PLACEHOLDER_WORDS = (
    "changeme",
    "changethis",
    "replaceme",
    "youradminkey",
    "adminkey",
    "teamgateadminkey",
    "teamgate",
    "secret",
    "password",
    "example",
    "placeholder",
    "todo",
    "xxx",
    "test",
    "admin",
)


def _normalised(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


def admin_key_problem(key: str) -> str | None:
    """Why ``key`` is too weak to guard the admin API, or None."""
    if len(key) < MIN_LENGTH:
        return f"is {len(key)} characters long; it must have at least {MIN_LENGTH}"
    plain = _normalised(key)
    stripped = plain
    for word in sorted(_PLACEHOLDER_WORDS, key=len, reverse=True):
        stripped = stripped.replace(word, "")
    if not stripped.strip("0123456789"):
        return "is a well-known placeholder"
    if len(set(key)) < MIN_DISTINCT:
        return f"has only {len(set(key))} distinct characters; use a random key"
    return None


def admin_key_error(key_env: str, key: str) -> str | None:
    """The one-line start-up error for a weak admin key in ``key_env``, or None."""
    problem = admin_key_problem(key)
    if problem is None:
        return None
    return f"teamgate serve: the admin key in ${key_env} {problem}. Generate one with: {GENERATE}"
