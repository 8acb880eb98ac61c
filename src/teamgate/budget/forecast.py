"""When each budget runs out at the current pace: the run-rate projection and its watch.

The projection is the dashboard's (``teamgate.dashboard.projection`` re-exports it):
month-to-date spend, read from the ledger's exact roll-ups, divided by the time
elapsed since the period started, is the run rate; spend at that rate reaches the
budget at ``now + (budget - spent) / rate``. The day it does so, in ``org.timezone``,
is the *run-out date* (a budget that runs out exactly at midnight runs out on the day
that ends there). :class:`ForecastWatch` computes it for every scope with a budget
(:func:`budget_scopes`: each team and the org) and hands the ones that run out
before the period ends to a callback (``AlertManager.forecast``, which decides
whether to send a ``budget_forecast`` alert).

>>> p = project(spent=50, budget=100, start=0, end=100, now=25)
>>> p.projected_pusd, p.runs_out_at
(200, 50)
>>> project(spent=10, budget=100, start=0, end=100, now=50).runs_out_at is None
True
>>> runs_out_day(1795219200, "UTC")  # 2026-11-21T00:00:00Z: the last dollar goes on the 20th
datetime.date(2026, 11, 20)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from teamgate.budget.period import month_of
from teamgate.budget.scopes import env_scope, key_scope
from teamgate.config.schema import Settings
from teamgate.ledger.records import ClientKey
from teamgate.ledger.store import Store
from teamgate.ledger.summary import UsageGroup
from teamgate.pricing.money import usd_to_pico

log = logging.getLogger("teamgate.alerts")

MIN_ELAPSED_S = 86_400
"""No forecast in a period's first day: one busy hour is not a pace."""
FORECAST_INTERVAL_S = 900.0
"""How often :class:`ForecastWatch` looks (the alert itself is at most once a day)."""


@dataclass(frozen=True, slots=True)
class Projection:
    """Spend at month end if the pace so far holds, and when the budget runs out.

    ``runs_out_at`` (unix seconds) is None when the budget lasts the month (or there
    is no budget); it is ``now`` when the budget is already spent.
    """

    projected_pusd: int
    runs_out_at: int | None


def project(spent: int, budget: int | None, start: int, end: int, now: int) -> Projection:
    """Linear projection of ``spent`` over [start, now) to ``end`` (whole seconds)."""
    elapsed = max(now - start, 1)
    left = max(end - now, 0)
    projected = spent + spent * left // elapsed
    if budget is None or spent <= 0:
        return Projection(projected, None)
    if spent >= budget:
        return Projection(projected, now)
    at = now + (budget - spent) * elapsed // spent
    return Projection(projected, at if at < end else None)


def runs_out_day(at: int, tz: str) -> date:
    """The calendar day (in ``tz``) in which spend reaches the budget at instant ``at``."""
    return datetime.fromtimestamp(at - 1, ZoneInfo(tz)).date()


@dataclass(frozen=True, slots=True)
class ScopeBudget:
    """A budget and the ledger records it counts (None: any value of that dimension).

    ``scope`` is the budget book's spelling (``org``, ``team:T``; sub-budgets add
    ``env:T/E`` and ``key:NAME`` the same way; ``key`` is that ``key:NAME`` scope, which a
    rotated key in its grace period shares with its successor)."""

    scope: str
    budget_pico: int
    team: str | None = None
    environment: str | None = None
    key: str | None = None

    def counts(self, g: UsageGroup) -> bool:
        return (
            (self.team is None or g["team"] == self.team)
            and (self.environment is None or g["environment"] == self.environment)
            and (self.key is None or key_scope(str(g["key"])) == self.key)
        )


def budget_scopes(settings: Settings, keys: Sequence[ClientKey] = ()) -> list[ScopeBudget]:
    """Every scope with a monthly budget: each key's own (from ``keys``), each
    environment's, each team's, then the org's: the scopes the budget book reserves in."""
    found: dict[str, ScopeBudget] = {}
    for k in keys:
        if k.budget_pusd is not None and k.revoked_at is None:
            scope = key_scope(k.name)  # a rotated key in its grace shares its successor's
            found.setdefault(scope, ScopeBudget(scope, k.budget_pusd, team=k.team, key=scope))
    for name, team in settings.teams.items():
        for env_name, env in team.environments.items():
            if env.monthly_budget_usd is not None:
                scope = env_scope(name, env_name)
                budget = usd_to_pico(env.monthly_budget_usd)
                found[scope] = ScopeBudget(scope, budget, team=name, environment=env_name)
    scopes = list(found.values())
    scopes += [
        ScopeBudget(f"team:{name}", usd_to_pico(team.monthly_budget_usd), team=name)
        for name, team in settings.teams.items()
        if team.monthly_budget_usd is not None
    ]
    found_list = scopes
    if settings.org.monthly_budget_usd is not None:
        found_list.append(ScopeBudget("org", usd_to_pico(settings.org.monthly_budget_usd)))
    return found_list


@dataclass(frozen=True, slots=True)
class ScopeForecast:
    scope: str
    period: str
    spent: int
    budget: int
    projected: int
    runs_out_on: date


async def forecasts(
    store: Store, settings: Settings, now: float, scopes: Sequence[ScopeBudget]
) -> list[ScopeForecast]:
    """The scopes that run out before the period ends at the pace so far."""
    tz = settings.org.timezone
    period = month_of(now, tz)
    start, end = int(period.start_ts), int(period.end_ts)
    if not scopes or now - start < MIN_ELAPSED_S:
        return []
    groups = await store.usage_summary(start, now, ("team", "environment", "key"), tz=tz)
    found = []
    for s in scopes:
        spent = sum(g.cost_pusd for g in groups if s.counts(g))
        p = project(spent, s.budget_pico, start, end, int(now))
        if p.runs_out_at is None or spent >= s.budget_pico:
            continue  # lasts the period, or already spent (the cut-off alert's business)
        day = runs_out_day(p.runs_out_at, tz)
        found.append(
            ScopeForecast(s.scope, period.key, spent, s.budget_pico, p.projected_pusd, day)
        )
    return found


OnForecast = Callable[[str, str, int, int, int, date, date], Awaitable[bool]]
"""``(scope, period, spent, budget, projected, runs_out_on, today) -> sent``."""


class ForecastWatch:
    """Looks at every budget's run-out date and reports each that falls in the period.

    >>> # watch = ForecastWatch(store, lambda: gw.settings, alerts.forecast)
    >>> # sent = await watch.check_once()   # from a background task (teamgate.background.tasks)
    """

    def __init__(
        self,
        store: Store,
        settings: Callable[[], Settings],
        on_forecast: OnForecast,
        *,
        clock: Callable[[], float] = time.time,
        scopes: Callable[[Settings, Sequence[ClientKey]], list[ScopeBudget]] = budget_scopes,
        keys: Callable[[], Awaitable[Sequence[ClientKey]]] | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._on_forecast = on_forecast
        self._clock = clock
        self._scopes = scopes
        self._keys = keys  # the client keys, for their own budgets (the store's list)

    async def check_once(self) -> int:
        """One look; the number of ``budget_forecast`` alerts sent."""
        settings = self._settings()
        now = self._clock()
        today = datetime.fromtimestamp(now, ZoneInfo(settings.org.timezone)).date()
        sent = 0
        keys = await self._keys() if self._keys is not None else ()
        for f in await forecasts(self._store, settings, now, self._scopes(settings, keys)):
            if await self._on_forecast(
                f.scope, f.period, f.spent, f.budget, f.projected, f.runs_out_on, today
            ):
                sent += 1
        return sent
