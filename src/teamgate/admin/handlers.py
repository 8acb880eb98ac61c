"""The admin API's handlers: usage, reports, budget, upstream keys, reload.

Each takes an :class:`AdminRequest` and returns a :class:`Reply`; errors are
raised as :class:`~teamgate.http.errors.GatewayError` and sent Groq-shaped.
"""

from __future__ import annotations

import dataclasses
import re
import time
from datetime import UTC, datetime
from typing import Any

from teamgate.admin.context import AdminRequest, Reply
from teamgate.budget import month_of
from teamgate.config.errors import ConfigError
from teamgate.http.errors import InvalidRequest
from teamgate.ledger.attribution import is_attribution_dimension
from teamgate.ledger.summary import UsageGroup
from teamgate.pricing.money import exact_usd
from teamgate.reports import build_report, default_month, default_week, month_named, week_named
from teamgate.reports.build import BREAKDOWN_HELP, check_breakdown
from teamgate.reports.periods import parse_instant
from teamgate.reports.render import report_json
from teamgate.runtime import Gateway
from teamgate.upstream.operations import key_status

USAGE_DIMENSIONS = ("team", "environment", "purpose", "model", "key", "day", "user")
# ... and ``tag:KEY`` (the value of one attribution tag, ledger/attribution.py).
# The instants and report years the admin API accepts (outside them dates overflow).
EARLIEST_INSTANT = 0.0  # 1970-01-01T00:00:00Z
LATEST_INSTANT = 253370764800.0  # 9999-01-01T00:00:00Z, exclusive
REPORT_YEARS = range(1970, 9999)
UNIX_SECONDS = re.compile(r"[0-9]{1,11}(\.[0-9]{1,9})?")


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def group_json(g: UsageGroup) -> dict[str, Any]:
    return {
        **g.dims,
        "requests": g.requests,
        "refusals": g.refusals,
        "errors": g.errors,
        "prompt_tokens": g.prompt_tokens,
        "completion_tokens": g.completion_tokens,
        "cached_tokens": g.cached_tokens,
        "cost_pusd": g.cost_pusd,
        "cost_usd": exact_usd(g.cost_pusd),
    }


def _total(groups: list[UsageGroup]) -> UsageGroup:
    return UsageGroup(
        {},
        sum(g.requests for g in groups),
        sum(g.refusals for g in groups),
        sum(g.errors for g in groups),
        sum(g.prompt_tokens for g in groups),
        sum(g.completion_tokens for g in groups),
        sum(g.cached_tokens for g in groups),
        sum(g.cost_pusd for g in groups),
    )


def _instant(req: AdminRequest, name: str, default: float) -> float:
    text = req.text(name)
    if text is None or text == "":
        return default
    if not UNIX_SECONDS.fullmatch(text.strip()) and _is_number(text):
        raise InvalidRequest(
            f"`{name}`: unix seconds are written as digits, like 1793491200",
            code="invalid_parameter",
        )
    try:
        value = parse_instant(text, req.gw.settings.org.timezone)
    except ValueError as exc:
        raise InvalidRequest(f"`{name}`: {exc}", code="invalid_parameter") from None
    if not EARLIEST_INSTANT <= value < LATEST_INSTANT:
        raise InvalidRequest(
            f"`{name}` must be from 1970-01-01 up to 9999-01-01", code="invalid_parameter"
        )
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_group_by(text: str | None) -> tuple[str, ...]:
    if text is None or text == "":
        return ("team",)
    dims = tuple(part.strip() for part in text.split(","))
    for dim in dims:
        if dim not in USAGE_DIMENSIONS and not is_attribution_dimension(dim):
            raise InvalidRequest(
                f"`group_by`: unknown dimension {dim!r}; use any of "
                f"{', '.join(USAGE_DIMENSIONS)}, tag:KEY",
                code="invalid_parameter",
            )
    if len(set(dims)) != len(dims):
        raise InvalidRequest("`group_by`: a dimension is repeated", code="invalid_parameter")
    return dims


async def get_usage(req: AdminRequest) -> Reply:
    gw = req.gw
    tz = gw.settings.org.timezone
    now = time.time()
    start = _instant(req, "from", month_of(now, tz).start_ts)
    end = _instant(req, "to", now)
    if end < start:
        raise InvalidRequest("`to` is before `from`", code="invalid_parameter")
    dims = parse_group_by(req.text("group_by"))
    await gw.ledger.flush()
    assert gw.store is not None
    groups = await visible_usage(req, start, end, dims)
    return Reply(
        200,
        {
            "from": iso(start),
            "to": iso(end),
            "timezone": tz,
            "group_by": list(dims),
            "groups": [group_json(g) for g in groups],
            "total": group_json(_total(groups)),
        },
    )


async def visible_usage(
    req: AdminRequest, start: float, end: float, dims: tuple[str, ...]
) -> list[UsageGroup]:
    """The usage groups the principal may read: the org's as asked, or (a team admin, a
    team viewer) grouped by team too, other teams dropped, then summed back to ``dims``."""
    gw, who = req.gw, req.who
    assert gw.store is not None
    tz = gw.settings.org.timezone
    if who.can("usage.read", None):
        return await gw.store.usage_summary(start, end, dims, tz=tz)
    wide = dims if "team" in dims else (*dims, "team")
    rows = await gw.store.usage_summary(start, end, wide, tz=tz)
    merged: dict[tuple[str, ...], list[UsageGroup]] = {}
    for g in rows:
        if who.can("usage.read", g.dims.get("team")):
            merged.setdefault(tuple(g.dims[d] for d in dims), []).append(g)
    return [
        dataclasses.replace(_total(parts), dims=dict(zip(dims, values, strict=True)))
        for values, parts in merged.items()
    ]


async def _report(req: AdminRequest, kind: str) -> Reply:
    gw = req.gw
    tz = gw.settings.org.timezone
    label = req.text("week" if kind == "weekly" else "month")
    by = req.text("by") or None
    if by is not None:
        try:
            check_breakdown(by)
        except ValueError:
            raise InvalidRequest(
                f"`by` must be one of {BREAKDOWN_HELP}", code="invalid_parameter"
            ) from None
    year = (label or "").strip()[:4]
    if year.isdigit() and int(year) not in REPORT_YEARS:
        raise InvalidRequest(
            f"reports cover the years {REPORT_YEARS.start} to {REPORT_YEARS.stop - 1}",
            code="invalid_parameter",
        )
    try:
        if kind == "weekly":
            period = week_named(label, tz) if label else default_week(time.time(), tz)
        else:
            period = month_named(label, tz) if label else default_month(time.time(), tz)
    except ValueError as exc:
        raise InvalidRequest(str(exc), code="invalid_parameter") from None
    await gw.ledger.flush()
    assert gw.store is not None
    report = await build_report(gw.store, gw.settings, period, by=by)
    return Reply(200, report_json(report))


async def get_weekly_report(req: AdminRequest) -> Reply:
    return await _report(req, "weekly")


async def get_monthly_report(req: AdminRequest) -> Reply:
    return await _report(req, "monthly")


def budget_json(gw: Gateway) -> list[dict[str, Any]]:
    rows = []
    for s in gw.budget.snapshot():
        remaining = (
            None
            if s.budget_pico is None
            else max(0, s.budget_pico - s.settled_pico - s.reserved_pico)
        )
        rows.append(
            {
                "scope": s.scope,
                "team": s.team,
                "period": s.period,
                "settled_pusd": s.settled_pico,
                "settled_usd": exact_usd(s.settled_pico),
                "reserved_pusd": s.reserved_pico,
                "budget_pusd": s.budget_pico,
                "budget_usd": exact_usd(s.budget_pico),
                "remaining_pusd": remaining,
                "remaining_usd": exact_usd(remaining),
            }
        )
    return rows


async def get_budget(req: AdminRequest) -> Reply:
    who = req.who
    rows = [r for r in budget_json(req.gw) if who.can("budget.read", r["team"])]
    return Reply(200, {"period": req.gw.budget.period().key, "scopes": rows})


async def upstream_json(gw: Gateway) -> list[dict[str, Any]]:
    """Per project, its keys as ``teamgate upstream status`` shows them (one source).

    Counts and last use come from the store (every instance's, since the key was
    first used), not from this process's memory; the tally of this process is
    written first. The fingerprint of a key never used comes from this gateway's
    resolved secret. ``backing_off`` is this instance's live state.
    """
    assert gw.store is not None
    now = time.time()
    await gw.upstream_sync.flush()
    live = {k.name: k for k in gw.keyring.keys()}  # noqa: SIM118 - a method, not a dict
    rows = await key_status(
        gw.settings,
        gw.store,
        now,
        known_fingerprints={n: k.fingerprint for n, k in live.items() if k.secret},
    )
    owner = {p.project: (team, env) for (team, env), p in gw.projects.items()}
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        team, env = owner.get(r.project, ("", ""))
        project = out.setdefault(
            r.project, {"project": r.project, "team": team, "environment": env, "keys": []}
        )
        key = live.get(r.name)
        project["keys"].append(
            {
                "name": r.name,
                "state": r.state,
                "fingerprint": r.fingerprint,
                "requests": r.requests,
                "requests_24h": r.requests_24h,
                "failures": r.failures,
                "last_used": iso(r.last_used_at),
                "backing_off": key is not None and key.failed_until > now,
            }
        )
    return list(out.values())


async def get_upstream(req: AdminRequest) -> Reply:
    visible = set(req.who.visible_teams)
    projects = [p for p in await upstream_json(req.gw) if p["team"] in visible]
    return Reply(200, {"projects": projects})


async def post_reload(req: AdminRequest) -> Reply:
    try:
        settings = await req.gw.reload()
    except ConfigError as exc:
        raise InvalidRequest(f"config not reloaded: {exc}", code="invalid_config") from None
    return Reply(
        200, {"reloaded": True, "source": settings.source, "teams": sorted(settings.teams)}
    )
