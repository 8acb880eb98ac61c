"""``/dashboard/api/*``: the JSON the dashboard draws, for one scope and time range.

Every endpoint takes ``scope`` (``org`` or ``team:NAME``) and ``range``
(:mod:`teamgate.dashboard.view`), asks the :class:`~teamgate.admin.access.Principal`
(``read`` on the scope) and returns only the teams the principal sees. Figures
are the store's (the same as the CLI's and the admin API's); money as integer
picodollars and exact dollar strings.

| endpoint | what |
|---|---|
| ``overview`` | spend vs budget per team and org, projection, this range vs the previous one |
| ``teams`` | per team: requests, refusals by reason, errors, cost, change vs previous |
| ``keys`` | per ``tg_`` key: spend, requests, refusals, last used; idle, expiring, in-grace |
| ``models`` | cost per model per day (and totals) |
| ``requests`` | the request log, filtered and paged from the store; ``format=csv`` exports |
| ``attribution`` | top end users and top values of one tag (``tag``, default ``feature``) by cost |
| ``pauses`` | the scope's pauses (teams, environments, keys); where the principal may pause |

The page's actions (pause, resume; create, rotate, revoke a key) are POSTs to the admin
API (``/admin/pauses``, ``/admin/keys``…) with the session cookie and its CSRF token in
``x-csrf-token``: the admin API's handlers and role check, not a second one. What the
page offers comes from :meth:`Principal.can` (``actions`` on each key, ``can_pause``).
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from teamgate.admin.access import Principal
from teamgate.auth.keys import key_state
from teamgate.auth.pauses import pause_json, team_of_scope
from teamgate.budget import month_of
from teamgate.dashboard.projection import project
from teamgate.dashboard.view import View, parse_view
from teamgate.http.errors import InvalidRequest, NotFound
from teamgate.ledger.attribution import TAG_PREFIX, is_attribution_dimension, tag_value
from teamgate.ledger.summary import UsageGroup
from teamgate.pricing.money import exact_usd, usd_to_pico
from teamgate.reports.export import COLUMNS, export_row
from teamgate.runtime import Gateway
from teamgate.text.display import iso_time

TOP_N = 10
"""Rows of each attribution table; the rest is summed in one ``others`` line."""
IDLE_AFTER_S = 7 * 86_400.0
"""A key unused this long (or never used, and older than this) is flagged ``idle``."""
EXPIRING_WITHIN_S = 7 * 86_400.0
"""A key that expires within this is flagged ``expiring``."""
KEY_ACTIONS = ("rotate", "revoke", "pause")
"""The key view's row actions, each allowed per key as ``keys.<action>`` on its team."""
PAGE_MAX = 500
SCAN_PAGES = 50  # store pages read at most to fill one filtered page of the log


@dataclass(frozen=True)
class ApiAnswer:
    """JSON body, or CSV text (``csv`` set) with its file name."""

    body: Any
    csv: str | None = None
    filename: str = ""


Handler = Callable[[Gateway, Principal, View, Mapping[str, str]], Awaitable[ApiAnswer]]


def _money(pico: int | None) -> dict[str, Any]:
    return {"pusd": pico, "usd": exact_usd(pico)}


def _teams_in(principal: Principal, view: View) -> list[str]:
    return [view.team] if view.team is not None else list(principal.visible_teams)


async def _groups(
    gw: Gateway, start: float, end: float, dims: tuple[str, ...], view: View
) -> list[UsageGroup]:
    assert gw.store is not None
    tz = gw.settings.org.timezone
    return await gw.store.usage_summary(start, end, dims, tz=tz, team=view.team)


def _budget(gw: Gateway, team: str | None) -> int | None:
    cfg = gw.settings.org if team is None else gw.settings.teams.get(team)
    amount = None if cfg is None else cfg.monthly_budget_usd
    return None if amount is None else usd_to_pico(amount)


async def overview(
    gw: Gateway, principal: Principal, view: View, query: Mapping[str, str]
) -> ApiAnswer:
    """Spend vs budget (the budget month, whatever the range) and the range's change."""
    now = time.time()
    tz = gw.settings.org.timezone
    month = month_of(now, tz)
    visible = set(_teams_in(principal, view))
    by_team = {
        g["team"]: g
        for g in await _groups(gw, month.start_ts, month.end_ts, ("team",), view)
        if g["team"] in visible
    }
    now_range = {g["team"]: g for g in await _groups(gw, view.start, view.end, ("team",), view)}
    before = {
        g["team"]: g for g in await _groups(gw, view.previous_start, view.start, ("team",), view)
    }
    lines: list[dict[str, Any]] = []
    for team in _teams_in(principal, view):
        g = by_team.get(team)
        spent = g.cost_pusd if g else 0
        budget = _budget(gw, team)
        p = project(spent, budget, int(month.start_ts), int(month.end_ts), int(now))
        lines.append(
            {
                "team": team,
                "month_spent": _money(spent),
                "budget": _money(budget),
                "projected": _money(p.projected_pusd),
                "runs_out_at": iso_time(p.runs_out_at),
                "range_cost": _money(now_range[team].cost_pusd if team in now_range else 0),
                "previous_cost": _money(before[team].cost_pusd if team in before else 0),
            }
        )
    body: dict[str, Any] = {"teams": lines, "thresholds": ["0.5", "0.8", "0.95"]}
    if view.team is None and principal.can("read", None):
        spent = sum(int(line["month_spent"]["pusd"]) for line in lines)
        budget = _budget(gw, None)
        p = project(spent, budget, int(month.start_ts), int(month.end_ts), int(now))
        body["org"] = {
            "month_spent": _money(spent),
            "budget": _money(budget),
            "projected": _money(p.projected_pusd),
            "runs_out_at": iso_time(p.runs_out_at),
        }
    body["thresholds"] = [str(t) for t in gw.settings.alerts.thresholds]
    return ApiAnswer(body)


async def teams(
    gw: Gateway, principal: Principal, view: View, query: Mapping[str, str]
) -> ApiAnswer:
    """Per team: requests, refusals by reason, errors and cost in the range, vs the previous."""
    visible = set(_teams_in(principal, view))
    groups = await _groups(gw, view.start, view.end, ("team", "refusal"), view)
    before = {
        g["team"]: g for g in await _groups(gw, view.previous_start, view.start, ("team",), view)
    }
    out: dict[str, dict[str, Any]] = {
        t: {"team": t, "requests": 0, "errors": 0, "cost_pusd": 0, "refusals": {}}
        for t in _teams_in(principal, view)
    }
    for g in groups:
        line = out.get(g["team"])
        if line is None or g["team"] not in visible:
            continue
        line["requests"] += g.requests
        line["errors"] += g.errors
        line["cost_pusd"] += g.cost_pusd
        if g["refusal"]:
            line["refusals"][g["refusal"]] = g.refusals
    for team, line in out.items():
        prev = before.get(team)
        line["cost_usd"] = exact_usd(line["cost_pusd"])
        line["previous_cost"] = _money(prev.cost_pusd if prev else 0)
        line["previous_requests"] = prev.requests if prev else 0
    return ApiAnswer({"teams": list(out.values())})


async def keys(
    gw: Gateway, principal: Principal, view: View, query: Mapping[str, str]
) -> ApiAnswer:
    """Every ``tg_`` key of the visible teams with its figures in the range and its flags."""
    assert gw.store is not None
    now = time.time()
    visible = set(_teams_in(principal, view))
    sums = {g["key"]: g for g in await _groups(gw, view.start, view.end, ("key",), view)}
    rows = []
    for k in await gw.store.list_client_keys(include_revoked=False):
        if k.team not in visible:
            continue
        g = sums.get(k.name)
        state = key_state(k, now)
        last = k.last_used_at
        flags = []
        if state in ("active", "in-grace") and (
            (last is None and now - k.created_at > IDLE_AFTER_S)
            or (last is not None and now - last > IDLE_AFTER_S)
        ):
            flags.append("idle")
        if k.expires_at is not None and 0 < k.expires_at - now <= EXPIRING_WITHIN_S:
            flags.append("expiring")
        if state == "in-grace":
            flags.append("in-grace")
        rows.append(
            {
                "name": k.name,
                "team": k.team,
                "environment": k.environment,
                "purpose": k.purpose,
                "fingerprint": k.fingerprint,
                "state": state,
                "flags": flags,
                "requests": g.requests if g else 0,
                "refusals": g.refusals if g else 0,
                "cost": _money(g.cost_pusd if g else 0),
                "last_used_at": iso_time(last),
                "expires_at": iso_time(k.expires_at),
                "actions": [a for a in KEY_ACTIONS if principal.can(f"keys.{a}", k.team)],
            }
        )
    creatable = [t for t in _teams_in(principal, view) if principal.can("keys.create", t)]
    environments = {t: list(gw.settings.teams[t].environments) for t in creatable}
    return ApiAnswer({"keys": rows, "can_create": environments})


async def models(
    gw: Gateway, principal: Principal, view: View, query: Mapping[str, str]
) -> ApiAnswer:
    """Cost per model per day of the range (only models that served a request)."""
    visible = set(_teams_in(principal, view))
    groups = await _groups(gw, view.start, view.end, ("day", "team", "model"), view)
    per: dict[tuple[str, str], int] = {}
    totals: dict[str, int] = {}
    for g in groups:
        if g["team"] not in visible or not g["model"] or g.requests == g.refusals:
            continue  # refused before Groq (a never-allowed model): not in the mix
        per[(g["day"], g["model"])] = per.get((g["day"], g["model"]), 0) + g.cost_pusd
        totals[g["model"]] = totals.get(g["model"], 0) + g.cost_pusd
    return ApiAnswer(
        {
            "models": [
                {"model": m, "cost": _money(c)}
                for m, c in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            "daily": [
                {"day": day, "model": model, "cost": _money(c)}
                for (day, model), c in sorted(per.items())
            ],
        }
    )


async def pauses(
    gw: Gateway, principal: Principal, view: View, query: Mapping[str, str]
) -> ApiAnswer:
    """The pauses (in force and ended) of the scope's teams the principal may read
    (``pauses.read``, as ``GET /admin/pauses``), and the teams where it may pause."""
    assert gw.store is not None
    now = time.time()
    teams = [t for t in _teams_in(principal, view) if principal.can("pauses.read", t)]
    shown = []
    for p in await gw.store.list_pauses():
        key = await gw.store.get_client_key(p.scope[4:]) if p.scope.startswith("key:") else None
        team = team_of_scope(p.scope, key)
        if team in teams:
            shown.append({**pause_json(p, now), "team": team})
    return ApiAnswer(
        {
            "pauses": shown,
            "can_pause": {
                t: list(gw.settings.teams[t].environments)
                for t in _teams_in(principal, view)
                if principal.can("keys.pause", t)
            },
        }
    )


def _top(groups: list[UsageGroup], dim: str, visible: set[str]) -> dict[str, Any]:
    """The ``TOP_N`` (team, value) lines by cost, the rest as ``others``, and the total:
    ``top`` plus ``others`` is ``total`` to the picodollar."""
    lines = sorted(
        (g for g in groups if g["team"] in visible),
        key=lambda g: (-g.cost_pusd, -g.requests, g["team"], g[dim]),
    )
    top, rest = lines[:TOP_N], lines[TOP_N:]

    def line(requests: int, cost: int) -> dict[str, Any]:
        return {"requests": requests, "cost": _money(cost)}

    return {
        "top": [{"team": g["team"], "value": g[dim], **line(g.requests, g.cost_pusd)} for g in top],
        "others": {
            "values": len(rest),
            **line(sum(g.requests for g in rest), sum(g.cost_pusd for g in rest)),
        },
        "total": line(sum(g.requests for g in lines), sum(g.cost_pusd for g in lines)),
    }


async def attribution(
    gw: Gateway, principal: Principal, view: View, query: Mapping[str, str]
) -> ApiAnswer:
    """Top end users and top values of one tag (``tag``, default ``feature``) by cost, per
    team; a value "" is the requests without an end user (or without that tag)."""
    tag = query.get("tag") or "feature"
    if not is_attribution_dimension(TAG_PREFIX + tag):
        raise InvalidRequest("`tag`: a tag key (a-z, 0-9, _, -)", code="invalid_parameter")
    visible = set(_teams_in(principal, view))
    dim = TAG_PREFIX + tag
    users = await _groups(gw, view.start, view.end, ("team", "user"), view)
    tags = await _groups(gw, view.start, view.end, ("team", dim), view)
    return ApiAnswer(
        {"tag": tag, "users": _top(users, "user", visible), "tags": _top(tags, dim, visible)}
    )


_FILTERS = ("team", "key", "model", "status", "reason", "user", "tag")


def _tagged(tags: str, wanted: str) -> bool:
    """Whether canonical ``tags`` hold ``key=value`` (``wanted``); a bare key: has that tag."""
    key, _, value = wanted.partition("=")
    found = tag_value(tags, key)
    return found == value if value else found != ""


async def requests(
    gw: Gateway, principal: Principal, view: View, query: Mapping[str, str]
) -> ApiAnswer:
    """The request log of the range, newest store order, filtered (team, key, model, status,
    reason, ``user``: the end user, ``tag``: ``feature=search`` or a bare key); ``format=csv``
    exports."""
    assert gw.store is not None
    visible = set(_teams_in(principal, view))
    wanted = {f: query[f] for f in _FILTERS if query.get(f)}
    if "team" in wanted and wanted["team"] not in visible:
        principal.require("read", wanted["team"])
        raise NotFound(f"no team `{wanted['team']}` in this scope")
    try:
        after = int(query.get("after") or 0)
        limit = min(int(query.get("limit") or 100), PAGE_MAX)
    except ValueError:
        raise InvalidRequest("`after` and `limit` are integers", code="invalid_parameter") from None
    as_csv = query.get("format") == "csv"
    if as_csv:
        limit = PAGE_MAX * SCAN_PAGES  # an export: up to 25,000 rows (the CLI has no limit)
    rows: list[dict[str, Any]] = []
    cursor = after
    for _ in range(SCAN_PAGES):
        # Never read more than the rows still wanted: every record read is then either
        # returned or skipped, so the store's cursor is exactly where the next page starts.
        size = min(limit - len(rows), PAGE_MAX)
        page, next_cursor = await gw.store.usage_page(view.start, view.end, cursor, size)
        if not page:
            cursor = 0
            break
        for record in page:
            if record.team not in visible:
                continue
            if any(
                (f == "team" and record.team != v)
                or (f == "key" and record.client_key != v)
                or (f == "model" and v not in (record.model_requested, record.model_served))
                or (f == "status" and str(record.status) != v)
                or (f == "reason" and record.refusal != v)
                or (f == "user" and record.end_user != v)
                or (f == "tag" and not _tagged(record.tags, v))
                for f, v in wanted.items()
            ):
                continue
            rows.append(export_row(record))
        cursor = next_cursor
        if len(rows) >= limit:
            break
    if as_csv:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow(
                [("true" if v else "false") if isinstance(v, bool) else v for v in row.values()]
            )
        return ApiAnswer(None, csv=out.getvalue(), filename=f"teamgate-requests-{view.scope}.csv")
    return ApiAnswer({"requests": rows, "next": cursor or None})


ENDPOINTS: dict[str, Handler] = {
    "overview": overview,
    "teams": teams,
    "keys": keys,
    "models": models,
    "requests": requests,
    "pauses": pauses,
    "attribution": attribution,
}


async def answer(
    gw: Gateway, principal: Principal, name: str, query: Mapping[str, str]
) -> ApiAnswer:
    """Run endpoint ``name`` for ``principal`` after the one access check (``read``)."""
    handler = ENDPOINTS.get(name)
    if handler is None:
        raise NotFound(f"no dashboard endpoint `{name}`; use {', '.join(ENDPOINTS)}")
    view = parse_view(
        query, now=time.time(), tz=gw.settings.org.timezone, teams=list(gw.settings.teams)
    )
    principal.require("read", view.team)
    await gw.ledger.flush()
    result = await handler(gw, principal, view, query)
    if result.csv is None:
        result.body["scope"] = view.scope
        result.body["range"] = {
            "name": view.range,
            "label": view.label,
            "from": iso_time(view.start),
            "to": iso_time(view.end),
            "previous_from": iso_time(view.previous_start),
        }
    return result
