"""What a dashboard request looks at: a scope (the org or one team) and a time range.

Both come from the page's URL (``?scope=team:chatbot&range=7d``), so a view can
be bookmarked and shared, and every ``/dashboard/api/*`` endpoint takes the same
two parameters. Ranges: ``month`` (this budget month to date, the default),
``7d``, ``30d`` (the last 7 / 30 days up to now), ``custom`` (``from`` and ``to``:
``YYYY-MM-DD`` or ISO 8601, ``to`` exclusive). Every range has a previous range
of the same length just before it, for week-over-week (period-over-period) change.

>>> v = parse_view({"scope": "team:chatbot", "range": "7d"}, now=1_795_000_000.0, tz="UTC",
...     teams=("chatbot", "research"))
>>> v.team, v.end - v.start, v.previous_start, v.label
('chatbot', 604800.0, 1793790400.0, 'last 7 days')
>>> parse_view({"scope": "team:nobody"}, now=0.0, tz="UTC", teams=("chatbot",))
Traceback (most recent call last):
...
teamgate.http.errors.InvalidRequest: `scope`: no team `nobody`
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from teamgate.budget import month_of
from teamgate.http.errors import InvalidRequest
from teamgate.reports.periods import parse_instant

RANGES = ("month", "7d", "30d", "custom")
DAY_S = 86_400.0
MAX_CUSTOM_S = 400 * DAY_S


@dataclass(frozen=True, slots=True)
class View:
    """A scope and a range. ``team`` None: the org (every team the principal sees)."""

    team: str | None
    range: str
    start: float
    end: float
    label: str

    @property
    def previous_start(self) -> float:
        return self.start - (self.end - self.start)

    @property
    def scope(self) -> str:
        return "org" if self.team is None else f"team:{self.team}"


def _bad(name: str, problem: str) -> InvalidRequest:
    return InvalidRequest(f"`{name}`: {problem}", code="invalid_parameter")


def parse_view(query: Mapping[str, str], *, now: float, tz: str, teams: Sequence[str]) -> View:
    """The view a query asks for; 400 ``invalid_parameter`` naming the field otherwise."""
    scope = query.get("scope") or "org"
    team: str | None = None
    if scope.startswith("team:"):
        team = scope.removeprefix("team:")
        if team not in teams:
            raise _bad("scope", f"no team `{team}`")
    elif scope != "org":
        raise _bad("scope", "use org or team:NAME")
    kind = query.get("range") or "month"
    if kind == "month":
        month = month_of(now, tz)
        return View(team, kind, month.start_ts, now, f"{month.key} to date")
    if kind in ("7d", "30d"):
        days = int(kind[:-1])
        return View(team, kind, now - days * DAY_S, now, f"last {days} days")
    if kind != "custom":
        raise _bad("range", f"use one of {', '.join(RANGES)}")
    try:
        start = parse_instant(query.get("from") or "", tz)
        end = parse_instant(query.get("to") or "", tz)
    except ValueError as exc:
        raise _bad("from/to", str(exc)) from None
    if not 0 <= start < end or end - start > MAX_CUSTOM_S:
        raise _bad("from/to", "need from < to, at most 400 days apart, from 1970 on")
    return View(team, kind, start, end, f"{query['from']} to {query['to']}")
