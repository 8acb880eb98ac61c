"""The budget book: reserve a request's worst-case cost, then settle or release it.

Recorded spend never exceeds a monthly budget at any concurrency: a request is
admitted only when its worst case fits beside the month's settled spend *and*
every open reservation, atomically across every scope it belongs to — its key
(when the key has a budget), its environment, its team and the org
(:mod:`teamgate.budget.scopes`, :mod:`teamgate.budget.counters`).

A reservation that fits only once open ones close waits (:mod:`teamgate.budget.waiting`);
one that cannot fit, or waited in vain, is refused (:mod:`teamgate.budget.refusals`).
Each :class:`~teamgate.budget.reservation.Reservation` keeps its counters' handle.

Months roll over by themselves: every call reads the injected clock and
switches to the new month's counter keys, which start at zero. Reservations
opened in the old month settle against the old month.

Alerts: pass ``on_settled`` (e.g. ``AlertManager.check_nowait``); after every
settle it is called once per budgeted scope as
``on_settled(scope, period_key, settled_pico, budget_pico)`` with scope
``"key:<name>"``, ``"env:<team>/<env>"``, ``"team:<name>"`` or ``"org"``. It must not
block; its exceptions are logged.
Pass ``on_refused`` (e.g. ``AlertManager.exhausted_nowait``) to hear of every
``REFUSED`` answer (the cut-off alert, :mod:`teamgate.budget.refusals`); same rules.

>>> import asyncio
>>> from decimal import Decimal
>>> from teamgate.config.schema import Settings, TeamConfig
>>> team = TeamConfig("chatbot", ("m",), 100, monthly_budget_usd=Decimal("1"))
>>> book = BudgetBook(Settings(teams={"chatbot": team}), clock=lambda: 1793491200.0)
>>> async def demo() -> int | None:
...     r = await book.reserve("chatbot", 10**11)   # $0.10 worst case
...     await r.settle(4 * 10**10)                   # cost $0.04
...     return book.remaining_pico("chatbot")
>>> asyncio.run(demo())
960000000000
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from teamgate.budget.budgets import Budgets, BudgetStatus
from teamgate.budget.counters import (
    BudgetCounters,
    BudgetScope,
    MemoryBudgetCounters,
    ReservationHandle,
    ReserveOutcome,
    ScopeTotals,
    unreserved,
)
from teamgate.budget.period import BudgetPeriod, month_of
from teamgate.budget.refusals import RefusedHook, refusal, wait_timeout
from teamgate.budget.reservation import Reservation
from teamgate.budget.scopes import (
    ORG,
    SPEND_DIMENSIONS,
    Payer,
    counter_key,
    key_scope,
    scope_of_counter,
    scope_team,
    settled_by_scope,
    team_scope,
)
from teamgate.budget.waiting import Changes
from teamgate.config.schema import Settings
from teamgate.ledger.summary import UsageGroup

__all__ = ["BudgetBook", "Reservation", "SettledHook", "SpendSource"]
# (Reservation lives in teamgate.budget.reservation: the book makes them, and says so.)

SettledHook = Callable[[str, str, int, int], None]
_ZERO = ScopeTotals(0, 0)
_log = logging.getLogger("teamgate.budget")


class SpendSource(Protocol):
    """The part of the ledger store the book reads at start-up (grouped by
    :data:`~teamgate.budget.scopes.SPEND_DIMENSIONS`)."""

    async def usage_summary(
        self, start: float, end: float, group_by: Sequence[str] = ()
    ) -> list[UsageGroup]: ...


def team_scope_key(team: str, period_key: str) -> str:
    return counter_key(team_scope(team), period_key)


def org_scope_key(period_key: str) -> str:
    return counter_key(ORG, period_key)


def _payer(who: Payer | str) -> Payer:
    return Payer(who) if isinstance(who, str) else who


class BudgetBook:
    """Monthly budgets of every key, environment, team and the org, enforced by
    reservations.

    See the module docstring for the waiting rule, month rollover and alerts.

    >>> # book = BudgetBook(settings, MemoryBudgetCounters(), on_settled=alerts.check_nowait)
    >>> # await book.load(store)
    >>> # r = await book.reserve(Payer("chatbot", "prod", key.name, key.budget_pusd), worst)
    """

    def __init__(
        self,
        settings: Settings,
        counters: BudgetCounters | None = None,
        *,
        clock: Callable[[], float] = time.time,
        on_settled: SettledHook | None = None,
        on_refused: RefusedHook | None = None,
    ) -> None:
        self._counters: BudgetCounters = counters or MemoryBudgetCounters()
        self._scope_cache: dict[tuple[Payer, str], tuple[BudgetScope, ...]] = {}
        self._clock = clock
        self._on_settled = on_settled
        self._on_refused = on_refused
        self._totals: dict[str, ScopeTotals] = {}
        self._changes = Changes()
        self._tz = settings.org.timezone
        self._period = month_of(clock(), self._tz)
        self._budgets = Budgets(settings)

    def reconfigure(self, settings: Settings) -> None:
        """Swap in new budgets (counters are kept) and wake every waiting request."""
        self._budgets = Budgets(settings, keys=self._budgets.keys)
        self._tz = settings.org.timezone
        self._scope_cache = {}
        self._signal()

    def budget_pico(self, team: str) -> int | None:
        return self._budgets.teams.get(team)

    def scope_budget_pico(self, scope: str) -> int | None:
        """The budget of any scope (``key:…``, ``env:…``, ``team:…``, ``org``); None: none."""
        return self._budgets.of(scope)

    @property
    def counters(self) -> BudgetCounters:
        return self._counters

    @property
    def org_budget_pico(self) -> int | None:
        return self._budgets.org

    @property
    def waiters(self) -> int:
        """How many requests are waiting for reservations in flight right now."""
        return self._changes.waiters

    # --- period ----------------------------------------------------------------
    def period(self) -> BudgetPeriod:
        """The current budget month by the injected clock (switches by itself)."""
        now = self._clock()
        if not self._period.contains(now) or self._period.timezone != self._tz:
            self._period = month_of(now, self._tz)
        return self._period

    def _scopes(self, payer: Payer, period_key: str) -> tuple[BudgetScope, ...]:
        """The payer's scopes this period, narrowest first (built once per payer, period
        and configuration). An environment is counted whether or not it has a budget (one
        may be set by a reload); a key only when it has its own budget."""
        cache_key = (payer, period_key)
        scopes = self._scope_cache.get(cache_key)
        if scopes is None:
            if len(self._scope_cache) >= 10_000:
                self._scope_cache.clear()
            if payer.key is not None and payer.key_budget_pico is not None:
                self._budgets.keys[key_scope(payer.key)] = payer.key_budget_pico
            scopes = self._scope_cache[cache_key] = tuple(
                BudgetScope(counter_key(name, period_key), self.scope_budget_pico(name))
                for name in payer.scope_names()
            )
        return scopes

    # --- start-up ----------------------------------------------------------------
    async def load(self, store: SpendSource) -> None:
        """Set this month's settled spend of every scope from the ledger."""
        period = self.period()
        groups = await store.usage_summary(period.start_ts, period.end_ts, SPEND_DIMENSIONS)
        settled = settled_by_scope(groups)
        for team in self._budgets.teams:
            settled.setdefault(team_scope(team), 0)
        for scope in self._budgets.envs:
            settled.setdefault(scope, 0)
        keys = [counter_key(scope, period.key) for scope in settled]
        for key, amount in zip(keys, settled.values(), strict=True):
            await self._counters.load_settled(key, amount)
        for key in keys:
            self._totals[key] = await self._counters.totals(key)
        self._signal()

    # --- reserve -----------------------------------------------------------------
    async def reserve(
        self,
        payer: Payer | str,
        worst_case_pico: int,
        *,
        max_wait_s: float = 30.0,
        client_gone: asyncio.Event | None = None,
    ) -> Reservation:
        """Hold ``worst_case_pico`` against every scope of ``payer`` (a team's name: the
        team and the org), waiting if needed.

        Raises :class:`BudgetExceeded` (refused, or waited ``max_wait_s`` in vain) or
        :class:`ReservationAbandoned` (``client_gone`` was set while waiting).
        """
        if worst_case_pico < 0:
            raise ValueError("worst_case_pico cannot be negative")
        payer = _payer(payer)
        team = payer.team
        # The common case, synchronously when the backend can (memory; Redis answers None).
        period = self.period()
        scopes = self._scopes(payer, period.key)
        if all(s.budget_pico is None for s in scopes):
            return Reservation(self, team, period.key, scopes, unreserved(scopes))
        handle = self._counters.reserve_now(scopes, worst_case_pico, self._totals)
        if handle is not None:
            return Reservation(self, team, period.key, scopes, handle)
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + max_wait_s
        while True:
            changed = self._changes.event
            period = self.period()
            scopes = self._scopes(payer, period.key)
            if all(s.budget_pico is None for s in scopes):
                return Reservation(self, team, period.key, scopes, unreserved(scopes))
            result = await self._counters.reserve(scopes, worst_case_pico)
            self._totals.update(result.totals)
            if result.handle is not None:  # the outcome is OK
                return Reservation(self, team, period.key, scopes, result.handle)
            if result.outcome is ReserveOutcome.REFUSED:
                raise refusal(
                    result, worst_case_pico, period, scopes, self._totals, self._on_refused
                )
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise wait_timeout(result, worst_case_pico, period, max_wait_s)
            await self._changes.wait(changed, remaining, client_gone)

    async def hold(self, payer: Payer | str, amount_pico: int) -> Reservation:
        """A reservation that is never refused nor waits: for money already committed.

        A batch Groq is running (its worst case re-reserved after a restart) or a
        cost being charged with no reservation left must be counted whatever the
        budget says; later requests then see it and are refused if it does not fit.
        """
        if amount_pico < 0:
            raise ValueError("amount_pico cannot be negative")
        payer = _payer(payer)
        period = self.period()
        scopes = self._scopes(payer, period.key)
        if all(s.budget_pico is None for s in scopes):
            return Reservation(self, payer.team, period.key, scopes, unreserved(scopes))
        unlimited = tuple(BudgetScope(s.key, None) for s in scopes)
        result = await self._counters.reserve(unlimited, amount_pico)
        self._totals.update(result.totals)
        assert result.handle is not None  # scopes without a budget always take it
        return Reservation(self, payer.team, period.key, scopes, result.handle)

    # --- one step shared with another component -------------------------------------
    def direct_scopes(self, payer: Payer | str) -> tuple[str, tuple[BudgetScope, ...]]:
        """The period key and the scopes a reservation for ``payer`` takes now, for a caller
        that reserves in a step of its own (one Redis script with the admission). With an
        outcome ``OK`` it calls :meth:`reserved`; with any other it calls :meth:`reserve`,
        which refuses or waits exactly as without this step."""
        payer = _payer(payer)
        period = self.period()
        return period.key, self._scopes(payer, period.key)

    def reserved(
        self,
        payer: Payer | str,
        period_key: str,
        scopes: tuple[BudgetScope, ...],
        handle: ReservationHandle | None,
        totals: Mapping[str, ScopeTotals],
    ) -> Reservation:
        """The reservation the caller's step made: its counters' ``handle`` (None when no
        scope has a budget, so nothing was reserved, as :meth:`reserve` does), and
        ``totals``, the scopes' after it."""
        self._totals.update(totals)
        if handle is None:
            handle = unreserved(scopes)
        return Reservation(self, _payer(payer).team, period_key, scopes, handle)

    def closed(
        self, reservation: Reservation, actual_pico: int, totals: Mapping[str, ScopeTotals]
    ) -> None:
        """The caller of :meth:`Reservation.closing` settled it for ``actual_pico`` (0: a
        release) with ``totals`` after (empty if it could not tell): waiters are woken,
        alerts checked."""
        self._signal()
        self._totals.update(totals)
        if actual_pico and totals and self._on_settled is not None:
            self._report(reservation, dict(totals))

    # --- settle / release ------------------------------------------------------------
    async def _settle(self, reservation: Reservation, actual_pico: int) -> None:
        counters, handle = self._counters, reservation.handle
        try:
            totals = counters.settle_now(handle, actual_pico)
            if totals is None:
                totals = await counters.settle(handle, actual_pico)
        finally:
            self._signal()
        self._totals.update(totals)
        if self._on_settled is not None:
            self._report(reservation, totals)

    async def _release(self, reservation: Reservation) -> None:
        if reservation.amount_pico == 0:
            return
        try:
            totals = await self._counters.release(reservation.handle)
        finally:
            self._signal()
        self._totals.update(totals)

    def _report(self, reservation: Reservation, totals: dict[str, ScopeTotals]) -> None:
        assert self._on_settled is not None
        period = reservation.period
        for scope in reservation.scopes:
            name = scope_of_counter(scope.key)
            budget = self.scope_budget_pico(name)
            if budget is None or scope.key not in totals:
                continue
            try:
                self._on_settled(name, period, totals[scope.key].settled, budget)
            except Exception:
                _log.exception("budget alert hook failed for %s", name)

    def wake(self) -> None:
        """Wake every waiting request to try again (another instance settled or released)."""
        self._signal()

    def _signal(self) -> None:
        """Wake every waiter (they retry); later waiters get a fresh event."""
        self._changes.signal()

    # --- seeing it -----------------------------------------------------------------
    def remaining_pico(self, payer: Payer | str) -> int | None:
        """What the payer can still reserve this month: the tightest of its scopes'
        budgets, each ``budget - settled - reserved`` floored at 0; None if none is set.

        Cheap and synchronous (last known totals), for a header on every response.
        """
        period = self.period()
        left: int | None = None
        for scope in self._scopes(_payer(payer), period.key):
            budget = scope.budget_pico
            if budget is not None:
                settled, reserved = self._totals.get(scope.key, _ZERO)
                scope_left = max(0, budget - settled - reserved)
                if left is None or scope_left < left:
                    left = scope_left
        return left

    def scopes_of(self, payer: Payer | str) -> list[BudgetStatus]:
        """This month's state of every scope of ``payer``, narrowest first (the usage API)."""
        period = self.period()
        payer = _payer(payer)
        return [
            self._status(scope_of_counter(s.key), s.key, s.budget_pico)
            for s in self._scopes(payer, period.key)
        ]

    def snapshot(self) -> list[BudgetStatus]:
        """This month's settled, reserved and budget of every team (sorted), then the org,
        then every environment with a budget and every key with one seen so far (sorted)."""
        period = self.period()
        prefix, suffix = "team:", f":{period.key}"
        budgets = self._budgets
        teams = set(budgets.teams)
        teams.update(
            key[len(prefix) : -len(suffix)]
            for key in self._totals
            if key.startswith(prefix) and key.endswith(suffix)
        )
        rows = [
            self._status(team_scope(t), team_scope_key(t, period.key), budgets.teams.get(t))
            for t in sorted(teams)
        ]
        rows.append(self._status(ORG, org_scope_key(period.key), budgets.org))
        narrow = budgets.narrow()
        rows += [
            self._status(scope, counter_key(scope, period.key), narrow[scope])
            for scope in sorted(narrow)
        ]
        return rows

    def _status(self, scope: str, key: str, budget: int | None) -> BudgetStatus:
        settled, reserved = self._totals.get(key, _ZERO)
        return BudgetStatus(scope, scope_team(scope), self._period.key, settled, reserved, budget)
