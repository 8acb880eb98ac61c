"""Secret references for upstream keys: ``env:NAME`` and ``file:/path``.

A reference is resolved to the secret's value; errors name the reference,
never a value. (AWS and GCP secret managers come with the upstream-keys work.)

>>> resolve_secret("env:HOME", {"HOME": "gsk_x"})
'gsk_x'
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


class SecretUnavailable(Exception):
    """A secret reference could not be read. The message names the reference only."""


def resolve_secret(ref: str, env: Mapping[str, str]) -> str:
    scheme, _, target = ref.partition(":")
    if scheme == "env":
        value = env.get(target, "")
        if not value:
            raise SecretUnavailable(f"{ref}: environment variable {target} is not set")
        return value.strip()
    if scheme == "file":
        try:
            value = Path(target).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SecretUnavailable(f"{ref}: cannot read the file ({exc.strerror})") from None
        if not value:
            raise SecretUnavailable(f"{ref}: the file is empty")
        return value
    raise SecretUnavailable(f"{ref}: secret source `{scheme}` is not supported by this build")


def secret_fingerprint(secret: str) -> str:
    """``gsk_…abcd``: how an upstream key is shown anywhere a person can see it."""
    return f"{secret[:4]}…{secret[-4:]}" if len(secret) > 8 else "…"
