"""Admin API for team keys: list, create, revoke, rotate.

Rotation issues a successor with the same team, environment and purpose and
expires the old key after ``grace`` (default now). With no grace the successor
takes the old name; with a grace both are live for a while, so the successor
is named ``{name}-r{YYYYMMDDHHMMSS}`` (a rotated key's base name is reused
once the key that held it is gone).
"""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime
from typing import Any

from teamgate.admin.context import AdminRequest, Conflict, Reply
from teamgate.admin.handlers import iso
from teamgate.errors import InvalidRequest, NotFound
from teamgate.keys import hash_secret, new_client_key, parse_duration
from teamgate.ledger.records import ClientKey

_ROTATED = re.compile(r"-r\d{14}$")
MAX_DURATION_S = 100 * 365 * 86400  # `expires_in` and `grace`: at most about 100 years


def key_json(k: ClientKey, now: float | None = None) -> dict[str, Any]:
    at = time.time() if now is None else now
    state = "revoked" if k.revoked_at is not None else ("active" if k.usable(at) else "expired")
    return {
        "name": k.name,
        "team": k.team,
        "environment": k.environment,
        "purpose": k.purpose,
        "fingerprint": k.fingerprint,
        "created_at": iso(k.created_at),
        "expires_at": iso(k.expires_at),
        "revoked_at": iso(k.revoked_at),
        "last_used_at": iso(k.last_used_at),
        "state": state,
    }


def _duration(req: AdminRequest, name: str) -> float | None:
    text = req.field_str(name, required=False)
    if text is None:
        return None
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise InvalidRequest(f"`{name}`: {exc}", code="invalid_field") from None
    except OverflowError:  # more digits than a float holds
        seconds = math.inf
    if seconds > MAX_DURATION_S:
        raise InvalidRequest(f"`{name}`: at most 100 years", code="invalid_field")
    return seconds


async def list_keys(req: AdminRequest) -> Reply:
    assert req.gw.store is not None
    include = req.text("include_revoked", "false")
    if include not in ("true", "false"):
        raise InvalidRequest("`include_revoked` must be true or false", code="invalid_parameter")
    keys = await req.gw.store.list_client_keys(include_revoked=include == "true")
    now = time.time()
    return Reply(200, {"keys": [key_json(k, now) for k in keys]})


async def create_key(req: AdminRequest) -> Reply:
    gw = req.gw
    assert gw.store is not None
    team_name = req.field_str("team") or ""
    env = req.field_str("environment") or ""
    purpose = req.field_str("purpose") or ""
    team = gw.settings.teams.get(team_name)
    if team is None:
        raise InvalidRequest(f"unknown team `{team_name}`", code="unknown_team")
    if env not in team.environments:
        raise InvalidRequest(
            f"team `{team_name}` has no environment `{env}`", code="unknown_environment"
        )
    try:
        record, secret = new_client_key(
            team_name, env, purpose, expires_in_s=_duration(req, "expires_in")
        )
    except ValueError as exc:
        raise InvalidRequest(str(exc), code="invalid_field") from None
    try:
        await gw.store.add_client_key(record)
    except KeyError:
        raise Conflict(f"a live key named `{record.name}` exists; revoke or rotate it") from None
    await gw.keys.refresh(force=True)
    return Reply(201, {**key_json(record), "key": secret})


async def revoke_key(req: AdminRequest) -> Reply:
    gw = req.gw
    assert gw.store is not None
    name = req.path_params["name"]
    if not await gw.store.revoke_client_key(name, time.time()):
        raise NotFound(f"no live key named `{name}`", code="key_not_found")
    await gw.keys.refresh(force=True)
    key = await gw.store.get_client_key(name)
    assert key is not None
    return Reply(200, key_json(key))


async def rotate_key(req: AdminRequest) -> Reply:
    gw = req.gw
    store = gw.store
    assert store is not None
    name = req.path_params["name"]
    grace = _duration(req, "grace") or 0.0
    now = time.time()
    old = await store.get_client_key(name)
    if old is None or old.revoked_at is not None or not old.usable(now):
        raise NotFound(f"no live key named `{name}`", code="key_not_found")
    base = _ROTATED.sub("", old.name)
    if grace == 0:
        successor_name = old.name
    else:
        holder = await store.get_client_key(base) if base != old.name else old
        free = holder is None or holder.revoked_at is not None or not holder.usable(now)
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d%H%M%S")
        successor_name = base if free and base != old.name else f"{base}-r{stamp}"
    record, secret = new_client_key(old.team, old.environment, old.purpose, now=now)
    record = ClientKey(
        successor_name,
        hash_secret(secret),
        record.fingerprint,
        old.team,
        old.environment,
        old.purpose,
        created_at=now,
    )
    await store.expire_client_key(old.name, now + grace)
    try:
        await store.add_client_key(record)
    except KeyError:
        raise Conflict(f"a live key named `{successor_name}` exists") from None
    await gw.keys.refresh(force=True)
    current = await store.list_client_keys(include_revoked=True)
    old_now = next((k for k in current if k.key_hash == old.key_hash), old)
    return Reply(
        200, {"old": key_json(old_now, now), "new": {**key_json(record, now), "key": secret}}
    )
