"""Client keys: format, generation, hashing and naming.

A client key is ``tg_`` followed by 40 random base62 characters. Only its
SHA-256 hash is stored; the secret is printed once when the key is created.
Names follow the seed's convention ``{team}-{environment}-{purpose}``.

>>> secret = generate_secret()
>>> secret.startswith("tg_") and len(secret) == 43
True
>>> len(hash_secret(secret))
64
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import secrets
import time
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Literal

from teamgate.ledger.records import ClientKey
from teamgate.pricing.money import exact_usd, usd_to_pico
from teamgate.text.display import iso_time

if TYPE_CHECKING:
    from teamgate.ledger.store import Store

PREFIX = "tg_"
ADMIN_PREFIX = "tga_"
"""Credentials for the admin API and the dashboard (team admins, viewers), never the proxy."""
CREDENTIAL_ROLES = ("team-admin", "viewer")
"""Roles a ``tga_`` credential may carry; stored as the environment ``@<role>``."""
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_RANDOM_CHARS = 40
_PURPOSE = re.compile(r"^[a-z0-9][a-z0-9_]{0,39}$")
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_MAX_DURATION_S = 100 * 365 * 86400


def generate_secret() -> str:
    """A new random key: ``tg_`` + 40 base62 characters (about 238 bits)."""
    return PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_CHARS))


def generate_admin_secret() -> str:
    """A new admin-API credential: ``tga_`` + 40 base62 characters."""
    return ADMIN_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_CHARS))


def credential_role(key: ClientKey) -> str | None:
    """``team-admin``/``viewer`` for a ``tga_`` credential's record, None for a client key.

    >>> credential_role(ClientKey("a-team-admin-x", "h", "tga…abcd", "a", "@team-admin", "x", 0.0))
    'team-admin'
    """
    role = key.environment.removeprefix("@")
    return role if key.environment.startswith("@") and role in CREDENTIAL_ROLES else None


def new_credential(
    team: str,
    role: str,
    purpose: str,
    *,
    expires_in_s: float | None = None,
    now: float | None = None,
) -> tuple[ClientKey, str]:
    """A ``tga_`` credential of ``role`` for ``team``, named ``{team}-{role}-{purpose}``;
    stored (hashed, expiring, revocable) with the team keys, refused by the proxy."""
    if role not in CREDENTIAL_ROLES:
        raise ValueError(f"role must be one of {', '.join(CREDENTIAL_ROLES)}, got {role!r}")
    record, _ = new_client_key(team, "@" + role, purpose, expires_in_s=expires_in_s, now=now)
    secret = generate_admin_secret()
    record = dataclasses.replace(
        record,
        name=key_name(team, role, purpose),
        key_hash=hash_secret(secret),
        fingerprint=fingerprint(secret),
    )
    return record, secret


def hash_secret(secret: str) -> str:
    """Hex SHA-256 of the whole secret, as stored and looked up."""
    return hashlib.sha256(secret.encode()).hexdigest()


def fingerprint(secret: str) -> str:
    """A short, non-secret label for listings: prefix and the last four characters."""
    return f"{secret[:3]}…{secret[-4:]}"


def key_name(team: str, environment: str, purpose: str) -> str:
    return f"{team}-{environment}-{purpose}"


def validate_purpose(purpose: str) -> str:
    if not _PURPOSE.match(purpose):
        raise ValueError(
            f"purpose must be lowercase letters, digits or _ (at most 40), got {purpose!r}"
        )
    return purpose


def parse_duration(text: str) -> float:
    """``30d`` → seconds. Units: s, m, h, d, w.

    >>> parse_duration("7d")
    604800.0
    """
    m = _DURATION.match(text.strip())
    if not m or int(m.group(1)) <= 0:
        raise ValueError(f"a duration is a positive number and a unit (s m h d w), got {text!r}")
    seconds = int(m.group(1)) * _UNIT_S[m.group(2)]
    if seconds > _MAX_DURATION_S:
        raise ValueError(f"a duration is at most 100 years, got {text!r}")
    return float(seconds)


MAX_KEY_BUDGET_PUSD = 10**18
"""$1,000,000: a key's own budget at most (far inside the int64 the stores and Redis keep)."""


def parse_budget(value: object) -> int:
    """A key's own monthly budget, in USD (text or a number; >= 0, at most 12 decimals and
    at most $1,000,000), as exact picodollars.

    >>> parse_budget("25.50"), parse_budget(3)
    (25500000000000, 3000000000000)
    """
    problem = (
        "a budget is an amount in USD >= 0 with at most 12 decimals, "
        f"at most 1000000, got {value!r}"
    )
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(problem)
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(problem) from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(problem)
    try:
        pico = usd_to_pico(abs(amount))
    except ValueError:
        raise ValueError(problem) from None
    if pico > MAX_KEY_BUDGET_PUSD:
        raise ValueError(problem)
    return pico


def new_client_key(
    team: str,
    environment: str,
    purpose: str,
    *,
    expires_in_s: float | None = None,
    now: float | None = None,
    budget_pusd: int | None = None,
) -> tuple[ClientKey, str]:
    """Build a key record and its secret. The caller stores the record and shows the secret once."""
    validate_purpose(purpose)
    at = time.time() if now is None else now
    secret = generate_secret()
    record = ClientKey(
        name=key_name(team, environment, purpose),
        key_hash=hash_secret(secret),
        fingerprint=fingerprint(secret),
        team=team,
        environment=environment,
        purpose=purpose,
        created_at=at,
        expires_at=None if expires_in_s is None else at + expires_in_s,
        budget_pusd=budget_pusd,
    )
    return record, secret


DEFAULT_ROTATION_GRACE = "7d"
"""How long a rotated key keeps working, unless ``--grace`` / ``grace`` says otherwise."""

ROTATED_MARK = "@rotated-"

KeyState = Literal["active", "in-grace", "expired", "revoked"]


def key_state(key: ClientKey, now: float) -> KeyState:
    """What a key is now; ``in-grace``: rotated, still working until it expires.

    >>> k = ClientKey("a-b-c@rotated-20261130T000000Z", "h", "tg_…abcd", "a", "b", "c",
    ...     created_at=0.0, expires_at=100.0)
    >>> key_state(k, 50.0), key_state(k, 150.0)
    ('in-grace', 'expired')
    """
    if key.revoked_at is not None and key.revoked_at <= now:
        return "revoked"
    if not key.usable(now):
        return "expired"
    return "in-grace" if ROTATED_MARK in key.name else "active"


def key_json(key: ClientKey, now: float) -> dict[str, object]:
    """A key as the admin API, the dashboard and ``keys list --json`` show it (one shape,
    documented in docs/cli.md): never its secret or hash; times to the second, UTC."""
    return {
        "name": key.name,
        "team": key.team,
        "environment": key.environment,
        "purpose": key.purpose,
        "fingerprint": key.fingerprint,
        "created_at": iso_time(key.created_at),
        "expires_at": iso_time(key.expires_at),
        "revoked_at": iso_time(key.revoked_at),
        "last_used_at": iso_time(key.last_used_at),
        "state": key_state(key, now),
        "role": credential_role(key) or "client",
        "budget_usd": exact_usd(key.budget_pusd),
    }


def rotated_name(name: str, at: float) -> str:
    """The name an old key keeps during its grace period.

    >>> rotated_name("chatbot-prod-web", 1_764_460_800.0)
    'chatbot-prod-web@rotated-20251130T000000Z'
    """
    return f"{name}{ROTATED_MARK}{datetime.fromtimestamp(at, UTC).strftime('%Y%m%dT%H%M%SZ')}"


async def rotate_client_key(
    store: Store, name: str, *, grace_s: float, now: float | None = None
) -> tuple[ClientKey, str, str, float] | None:
    """Issue a successor of the live key ``name`` under the same name.

    The old key is renamed ``NAME@rotated-<UTC time>`` and expires after
    ``grace_s`` (or sooner, if it already expired sooner); requests made with
    it meanwhile are recorded under that name, which shows who has not moved
    yet. The successor keeps the key's own budget (one budget for both: it is
    counted by the name without the suffix). Returns
    ``(successor, secret, old_name, old_expires_at)``, or None if
    there is no live key of that name.
    """
    at = time.time() if now is None else now
    old = await store.get_client_key(name)
    if old is None or old.revoked_at is not None:
        return None
    if credential_role(old) is not None:
        record, secret = new_credential(old.team, credential_role(old) or "", old.purpose, now=at)
    else:
        record, secret = new_client_key(
            old.team, old.environment, old.purpose, now=at, budget_pusd=old.budget_pusd
        )
    if record.name != name:  # a key whose name does not follow team-env-purpose
        record = dataclasses.replace(record, name=name)
    old_name = rotated_name(name, at)
    n = 1
    while await store.get_client_key(old_name) is not None:  # rotated twice in one second
        n += 1
        old_name = f"{rotated_name(name, at)}-{n}"
    expires = at + grace_s
    if old.expires_at is not None:
        expires = min(expires, old.expires_at)
    if not await store.rotate_client_key(record, old_name_after=old_name, old_expires_at=expires):
        return None
    return record, secret, old_name, expires
