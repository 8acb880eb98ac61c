"""The admin API's pause switch: ``GET /admin/pauses``, ``POST /admin/pauses`` and
``POST /admin/pauses/resume`` — what ``teamgate pause`` / ``resume`` do, for scripts and
the dashboard (see :mod:`teamgate.auth.pauses`).

A scope is ``team:T``, ``env:T/E`` or ``key:NAME``. Team admins may pause and resume
their own teams' scopes (and read their pauses); every call is checked through the
caller's :class:`~teamgate.admin.access.Principal`, audited by the dispatcher, and
alerted (``paused`` / ``resumed``) like the CLI's.
"""

from __future__ import annotations

import time

from teamgate.admin.context import AdminRequest, Reply
from teamgate.auth.keys import parse_duration
from teamgate.auth.pauses import (
    alert_fields,
    check_target,
    make_pause,
    pause_json,
    paused_text,
    resumed_text,
    team_of_scope,
)
from teamgate.http.errors import InvalidRequest, NotFound

SCOPE_PATTERN = r"^(team:[^/:]+|env:[^/:]+/[^/:]+|key:[^:]+)$"


async def _team_of(req: AdminRequest, scope: str) -> str:
    """The scope's team, after checking it exists (404 when it does not)."""
    gw = req.gw
    assert gw.store is not None
    if not scope.startswith(("team:", "env:", "key:")) or not scope.partition(":")[2]:
        raise InvalidRequest(
            "`scope` must be team:TEAM, env:TEAM/ENV or key:NAME", code="invalid_field"
        )
    problem = await check_target(gw.store, gw.settings, scope)
    if problem is not None:
        raise NotFound(problem, code="scope_not_found")
    key = None
    if scope.startswith("key:"):
        key = await gw.store.get_client_key(scope.partition(":")[2])
    team = team_of_scope(scope, key)
    assert team is not None
    if key is not None and team not in req.who.visible_teams:
        raise NotFound(f"no live key named `{key.name}`", code="scope_not_found")  # not 403
    return team


def _actor(req: AdminRequest) -> str:
    return "admin" if req.who.role == "org-admin" else f"{req.who.role}:{req.who.name}"


async def list_pauses(req: AdminRequest) -> Reply:
    gw = req.gw
    assert gw.store is not None
    now = time.time()
    visible = set(req.who.visible_teams)
    shown = []
    for pause in await gw.store.list_pauses():
        key = None
        if pause.scope.startswith("key:"):
            key = await gw.store.get_client_key(pause.scope.partition(":")[2])
        team = team_of_scope(pause.scope, key)
        if team is not None and team in visible and req.who.can("pauses.read", team):
            shown.append(pause_json(pause, now))
    return Reply(200, {"pauses": shown})


async def pause_scope(req: AdminRequest) -> Reply:
    gw = req.gw
    assert gw.store is not None
    scope = req.field_str("scope") or ""
    reason = (req.field_str("reason") or "").strip()
    if not reason:
        raise InvalidRequest(
            "`reason` must say why (the team's clients see it)", code="invalid_field"
        )
    team = await _team_of(req, scope)
    req.who.require("keys.pause", team)
    until = req.field_str("until", required=False)
    try:
        until_s = parse_duration(until) if until else None
        pause = make_pause(scope, reason[:500], until_s, _actor(req), time.time())
    except ValueError as exc:
        raise InvalidRequest(str(exc), code="invalid_field") from None
    await gw.store.set_pause(pause)
    await gw.keys.refresh(force=True)  # this instance at once; the others within 2 s
    gw.alerts.notify("paused", paused_text(pause), alert_fields(pause, _actor(req)))
    return Reply(201, pause_json(pause))


async def resume_scope(req: AdminRequest) -> Reply:
    gw = req.gw
    assert gw.store is not None
    scope = req.field_str("scope") or ""
    team = await _team_of(req, scope)
    req.who.require("keys.resume", team)
    removed = await gw.store.clear_pause(scope)
    if removed is None:
        raise NotFound(f"`{scope}` is not paused", code="not_paused")
    await gw.keys.refresh(force=True)
    gw.alerts.notify(
        "resumed",
        resumed_text(removed, _actor(req)),
        alert_fields(removed, _actor(req), expired=False),
    )
    return Reply(200, {**pause_json(removed), "active": False})
