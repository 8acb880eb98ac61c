"""Admin API for team keys: list, create, revoke, rotate.

Rotation works as ``teamgate keys rotate`` does (one semantics,
:func:`teamgate.auth.keys.rotate_client_key`): the successor takes the name, the old
key is renamed ``{name}@rotated-<UTC time>`` and keeps working for ``grace``
(default 7 days), shown as ``in-grace`` until then. Per-key reports therefore
split the same way whichever tool rotated.
"""

from __future__ import annotations

import math
import time

from teamgate.admin.context import AdminRequest, Conflict, Reply
from teamgate.auth.keys import (
    CREDENTIAL_ROLES,
    DEFAULT_ROTATION_GRACE,
    key_json,
    new_client_key,
    new_credential,
    parse_budget,
    parse_duration,
    rotate_client_key,
)
from teamgate.http.errors import InvalidRequest, NotFound
from teamgate.ledger.records import ClientKey

MAX_DURATION_S = 100 * 365 * 86400  # `expires_in` and `grace`: at most about 100 years


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


def _budget(req: AdminRequest, role: str) -> int | None:
    """``budget_usd``: a client key's own monthly budget (a decimal string or a number)."""
    value = req.body.get("budget_usd")
    if value is None:
        return None
    if role != "client":
        raise InvalidRequest("`budget_usd` is for client keys", code="invalid_field")
    try:
        return parse_budget(value)
    except ValueError as exc:
        raise InvalidRequest(f"`budget_usd`: {exc}", code="invalid_field") from None


async def list_keys(req: AdminRequest) -> Reply:
    assert req.gw.store is not None
    include = req.text("include_revoked", "false")
    if include not in ("true", "false"):
        raise InvalidRequest("`include_revoked` must be true or false", code="invalid_parameter")
    keys = await req.gw.store.list_client_keys(include_revoked=include == "true")
    now = time.time()
    seen = [k for k in keys if req.who.can("keys.read", k.team)]
    return Reply(200, {"keys": [key_json(k, now) for k in seen]})


async def _visible_key(req: AdminRequest, name: str, action: str) -> ClientKey | None:
    """The key ``name`` if the principal may do ``action`` on its team; a key of a team it
    may not touch is answered as missing, so its existence never leaks."""
    assert req.gw.store is not None
    key = await req.gw.store.get_client_key(name)
    if key is None or not req.who.can(action, key.team):
        return None
    return key


async def create_key(req: AdminRequest) -> Reply:
    gw = req.gw
    assert gw.store is not None
    team_name = req.field_str("team") or ""
    role = req.field_str("role", required=False) or "client"
    env = req.field_str("environment", required=role == "client") or ""
    purpose = req.field_str("purpose") or ""
    team = gw.settings.teams.get(team_name)
    if team is None:
        raise InvalidRequest(f"unknown team `{team_name}`", code="unknown_team")
    if role != "client" and role not in CREDENTIAL_ROLES:
        raise InvalidRequest(
            f"`role` must be client, {', '.join(CREDENTIAL_ROLES)}", code="invalid_field"
        )
    # issuing a team admin's or viewer's credential is the org admin's alone
    req.who.require("keys.create" if role == "client" else "credentials.create", team_name)
    if role == "client" and env not in team.environments:
        raise InvalidRequest(
            f"team `{team_name}` has no environment `{env}`", code="unknown_environment"
        )
    budget = _budget(req, role)
    try:
        if role == "client":
            record, secret = new_client_key(
                team_name,
                env,
                purpose,
                expires_in_s=_duration(req, "expires_in"),
                budget_pusd=budget,
            )
        else:
            record, secret = new_credential(
                team_name, role, purpose, expires_in_s=_duration(req, "expires_in")
            )
    except ValueError as exc:
        raise InvalidRequest(str(exc), code="invalid_field") from None
    try:
        await gw.store.add_client_key(record)
    except KeyError:
        raise Conflict(f"a live key named `{record.name}` exists; revoke or rotate it") from None
    await gw.keys.refresh(force=True)
    return Reply(201, {**key_json(record, time.time()), "key": secret})


async def revoke_key(req: AdminRequest) -> Reply:
    gw = req.gw
    assert gw.store is not None
    name = req.path_params["name"]
    if await _visible_key(req, name, "keys.revoke") is None:
        raise NotFound(f"no live key named `{name}`", code="key_not_found")
    if not await gw.store.revoke_client_key(name, time.time()):
        raise NotFound(f"no live key named `{name}`", code="key_not_found")
    await gw.keys.refresh(force=True)
    key = await gw.store.get_client_key(name)
    assert key is not None
    return Reply(200, key_json(key, time.time()))


async def rotate_key(req: AdminRequest) -> Reply:
    gw = req.gw
    store = gw.store
    assert store is not None
    name = req.path_params["name"]
    grace = _duration(req, "grace")
    if grace is None:
        grace = parse_duration(DEFAULT_ROTATION_GRACE)
    now = time.time()
    old = await _visible_key(req, name, "keys.rotate")
    if old is None or old.revoked_at is not None or not old.usable(now):
        raise NotFound(f"no live key named `{name}`", code="key_not_found")
    try:
        done = await rotate_client_key(store, name, grace_s=grace, now=now)
    except KeyError as exc:
        raise Conflict(str(exc.args[0])) from None
    if done is None:
        raise NotFound(f"no live key named `{name}`", code="key_not_found")
    record, secret, old_name, _ = done
    await gw.keys.refresh(force=True)
    old_now = await store.get_client_key(old_name)
    assert old_now is not None
    return Reply(
        200, {"old": key_json(old_now, now), "new": {**key_json(record, now), "key": secret}}
    )
