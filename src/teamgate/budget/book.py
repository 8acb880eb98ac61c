"""The budget book: reserve a request's worst-case cost, then settle or release it.

Recorded spend never exceeds a team's or the org's monthly budget at any
concurrency: a request is admitted only when its worst case fits beside the
month's settled spend *and* every open reservation, atomically across the team
and the org (see :mod:`teamgate.budget.counters`).

Waiting, exactly: when the worst case fits beside the settled spend but not beside
the open reservations (``WAIT``), :meth:`BudgetBook.reserve` waits for any
settle, release or :meth:`BudgetBook.reconfigure` in this process (an event,
no polling) and tries again. After ``max_wait_s`` it tries one last time; if the
answer is still ``WAIT`` it raises :class:`BudgetExceeded` with
``x-should-retry: true`` (the budget may pay for it later). A ``REFUSED`` answer
raises at once with ``x-should-retry: false``. If ``client_gone`` is set while
waiting, :class:`ReservationAbandoned` is raised.

Months roll over by themselves: every call reads the injected clock and
switches to the new month's counter keys, which start at zero. Reservations
opened in the old month settle against the old month.

Alerts: pass ``on_settled`` (e.g. ``AlertManager.check_nowait``); after every
settle it is called once per budgeted scope as
``on_settled(scope, period_key, settled_pico, budget_pico)`` with scope
``"team:<name>"`` or ``"org"``. It must not block; its exceptions are logged.
Pass ``on_refused`` (e.g. ``AlertManager.exhausted_nowait``) to hear of every
``REFUSED`` answer as ``on_refused(scope, period_key, settled_pico, budget_pico,
worst_case_pico, resets_at_ts, reset_text)`` naming the scope that did not fit (the
cut-off alert); same rules.

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
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from teamgate.budget.counters import (
    BudgetCounters,
    BudgetScope,
    MemoryBudgetCounters,
    ReserveOutcome,
    ReserveResult,
    ScopeTotals,
)
from teamgate.budget.messages import refusal_message, wait_timeout_message
from teamgate.budget.period import BudgetPeriod, month_of
from teamgate.config.errors import ConfigError
from teamgate.config.schema import Settings
from teamgate.http.errors import BudgetExceeded
from teamgate.ledger.records import SpendTotal
from teamgate.pricing.money import usd_to_pico

SettledHook = Callable[[str, str, int, int], None]
RefusedHook = Callable[[str, str, int, int, int, float, str], None]
_ZERO = ScopeTotals(0, 0)
_log = logging.getLogger("teamgate.budget")


class SpendSource(Protocol):
    """The part of the ledger store the book reads at start-up."""

    async def spend_by_team(self, period_start: float, period_end: float) -> list[SpendTotal]: ...


class ReservationAbandoned(Exception):
    """The client went away while its request waited for budget; nothing is reserved."""


def _budget_pico(dollars: Decimal, path: str) -> int:
    """Exact picodollars of a configured budget; a ConfigError if it has sub-picodollar digits."""
    try:
        return usd_to_pico(dollars)
    except ValueError:
        raise ConfigError(path, f"{dollars} has more than 12 decimals") from None


def team_scope_key(team: str, period_key: str) -> str:
    return f"team:{team}:{period_key}"


def org_scope_key(period_key: str) -> str:
    return f"org:{period_key}"


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """Month-to-date state of one scope (a team, or the org when ``team`` is None)."""

    scope: str  # "team:<name>" or "org"
    team: str | None
    period: str
    settled_pico: int
    reserved_pico: int
    budget_pico: int | None

    @property
    def percent(self) -> float | None:
        """Settled spend as a percentage of the budget (display only)."""
        if not self.budget_pico:
            return None
        return self.settled_pico * 100 / self.budget_pico


class Reservation:
    """An admitted request's hold on the budget; settle it or release it exactly once.

    Both methods are idempotent: only the first call of either has an effect.

    >>> # r = await book.reserve("chatbot", worst_case_pico)
    >>> # ... forward the request ...; await r.settle(actual_cost_pico)  # or r.release()
    """

    __slots__ = ("_book", "_done", "amount_pico", "period", "scopes", "team")

    def __init__(
        self,
        book: BudgetBook,
        team: str,
        period: str,
        scopes: Sequence[BudgetScope],
        amount_pico: int,
    ) -> None:
        self._book = book
        self._done = False
        self.team = team
        self.period = period
        self.scopes = tuple(scopes)
        self.amount_pico = amount_pico

    @property
    def open(self) -> bool:
        return not self._done

    async def settle(self, actual_pico: int) -> None:
        """Charge the actual cost (it may exceed the reservation if estimated)."""
        if self._done:
            return
        self._done = True
        await self._book._settle(self, actual_pico)

    async def release(self) -> None:
        """Give the reservation back unspent (Groq failed the request)."""
        if self._done:
            return
        self._done = True
        await self._book._release(self)

    def __repr__(self) -> str:
        state = "closed" if self._done else "open"
        return f"Reservation(team={self.team!r}, amount_pico={self.amount_pico}, {state})"


class BudgetBook:
    """Monthly budgets of every team and the org, enforced by reservations.

    See the module docstring for the waiting rule, month rollover and alerts.

    >>> # book = BudgetBook(settings, MemoryBudgetCounters(), on_settled=alerts.check_nowait)
    >>> # await book.load(store)
    >>> # r = await book.reserve("chatbot", worst_case_pico)   # may raise BudgetExceeded
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
        self._scope_cache: dict[tuple[str, str], tuple[BudgetScope, ...]] = {}
        self._clock = clock
        self._on_settled = on_settled
        self._on_refused = on_refused
        self._totals: dict[str, ScopeTotals] = {}
        self._changed = asyncio.Event()
        self._waiters = 0
        self._tz = settings.org.timezone
        self._period = month_of(clock(), self._tz)
        self._team_budgets: dict[str, int | None] = {}
        self._org_budget: int | None = None
        self._apply(settings)

    # --- configuration -----------------------------------------------------------
    def _apply(self, settings: Settings) -> None:
        self._team_budgets = {
            name: None
            if team.monthly_budget_usd is None
            else _budget_pico(team.monthly_budget_usd, f"teams.{name}.monthly_budget_usd")
            for name, team in settings.teams.items()
        }
        org = settings.org.monthly_budget_usd
        self._org_budget = None if org is None else _budget_pico(org, "org.monthly_budget_usd")
        self._tz = settings.org.timezone
        self._scope_cache = {}

    def reconfigure(self, settings: Settings) -> None:
        """Swap in new budgets (counters are kept) and wake every waiting request."""
        self._apply(settings)
        self._signal()

    def budget_pico(self, team: str) -> int | None:
        return self._team_budgets.get(team)

    @property
    def org_budget_pico(self) -> int | None:
        return self._org_budget

    @property
    def waiters(self) -> int:
        """How many requests are waiting for reservations in flight right now."""
        return self._waiters

    # --- period ----------------------------------------------------------------
    def period(self) -> BudgetPeriod:
        """The current budget month by the injected clock (switches by itself)."""
        now = self._clock()
        if not self._period.contains(now) or self._period.timezone != self._tz:
            self._period = month_of(now, self._tz)
        return self._period

    def _scopes(self, team: str, period_key: str) -> tuple[BudgetScope, ...]:
        """The team's and the org's scopes this period (built once per team, period and
        configuration)."""
        cache_key = (team, period_key)
        scopes = self._scope_cache.get(cache_key)
        if scopes is None:
            if len(self._scope_cache) >= 10_000:
                self._scope_cache.clear()
            scopes = self._scope_cache[cache_key] = (
                BudgetScope(team_scope_key(team, period_key), self._team_budgets.get(team)),
                BudgetScope(org_scope_key(period_key), self._org_budget),
            )
        return scopes

    # --- start-up ----------------------------------------------------------------
    async def load(self, store: SpendSource) -> None:
        """Set this month's settled spend per team and for the org from the ledger."""
        period = self.period()
        spend = await store.spend_by_team(period.start_ts, period.end_ts)
        per_team = dict.fromkeys(self._team_budgets, 0)
        for total in spend:
            per_team[total.team] = per_team.get(total.team, 0) + total.cost_pusd
        keys = [team_scope_key(t, period.key) for t in per_team]
        for key, settled in zip(keys, per_team.values(), strict=True):
            await self._counters.load_settled(key, settled)
        org_key = org_scope_key(period.key)
        await self._counters.load_settled(org_key, sum(per_team.values()))
        for key in [*keys, org_key]:
            self._totals[key] = await self._counters.totals(key)
        self._signal()

    # --- reserve -----------------------------------------------------------------
    async def reserve(
        self,
        team: str,
        worst_case_pico: int,
        *,
        max_wait_s: float = 30.0,
        client_gone: asyncio.Event | None = None,
    ) -> Reservation:
        """Hold ``worst_case_pico`` against the team and the org, waiting if needed.

        Raises :class:`BudgetExceeded` (refused, or waited ``max_wait_s`` in vain) or
        :class:`ReservationAbandoned` (``client_gone`` was set while waiting).
        """
        if worst_case_pico < 0:
            raise ValueError("worst_case_pico cannot be negative")
        # The common case, synchronously when the backend can (memory; Redis answers None).
        period = self.period()
        scopes = self._scopes(team, period.key)
        if scopes[0].budget_pico is None and scopes[1].budget_pico is None:
            return Reservation(self, team, period.key, scopes, 0)
        if self._counters.reserve_now(scopes, worst_case_pico, self._totals):
            return Reservation(self, team, period.key, scopes, worst_case_pico)
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + max_wait_s
        while True:
            changed = self._changed
            period = self.period()
            scopes = self._scopes(team, period.key)
            if all(s.budget_pico is None for s in scopes):
                return Reservation(self, team, period.key, scopes, 0)
            result = await self._counters.reserve(scopes, worst_case_pico)
            self._totals.update(result.totals)
            if result.outcome is ReserveOutcome.OK:
                return Reservation(self, team, period.key, scopes, worst_case_pico)
            if result.outcome is ReserveOutcome.REFUSED:
                raise self._refusal(team, result, worst_case_pico, period, scopes)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise self._wait_timeout(team, result, worst_case_pico, period, max_wait_s)
            await self._wait_for_change(changed, remaining, client_gone)

    async def hold(self, team: str, amount_pico: int) -> Reservation:
        """A reservation that is never refused nor waits: for money already committed.

        A batch Groq is running (its worst case re-reserved after a restart) or a
        cost being charged with no reservation left must be counted whatever the
        budget says; later requests then see it and are refused if it does not fit.
        """
        if amount_pico < 0:
            raise ValueError("amount_pico cannot be negative")
        period = self.period()
        scopes = self._scopes(team, period.key)
        if all(s.budget_pico is None for s in scopes):
            return Reservation(self, team, period.key, scopes, 0)
        unlimited = [BudgetScope(s.key, None) for s in scopes]
        result = await self._counters.reserve(unlimited, amount_pico)
        self._totals.update(result.totals)
        return Reservation(self, team, period.key, scopes, amount_pico)

    async def _wait_for_change(
        self, changed: asyncio.Event, within_s: float, client_gone: asyncio.Event | None
    ) -> None:
        """Return when ``changed`` is set or ``within_s`` passed; raise if the client left."""
        self._waiters += 1
        try:
            if client_gone is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), within_s)
                return
            waits = {
                asyncio.ensure_future(changed.wait()),
                asyncio.ensure_future(client_gone.wait()),
            }
            try:
                await asyncio.wait(waits, timeout=within_s, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in waits:
                    task.cancel()
            if client_gone.is_set():
                raise ReservationAbandoned("the client went away while waiting for budget")
        finally:
            self._waiters -= 1

    def _scope_owner(self, result: ReserveResult, team: str) -> str | None:
        """The team a deciding scope belongs to, or None for the org."""
        if result.scope_key is not None and result.scope_key.startswith("org:"):
            return None
        return team

    def _refusal(
        self,
        team: str,
        result: ReserveResult,
        amount: int,
        period: BudgetPeriod,
        scopes: Sequence[BudgetScope],
    ) -> BudgetExceeded:
        owner = self._scope_owner(result, team)
        if self._on_refused is not None:
            try:
                self._on_refused(
                    "org" if owner is None else f"team:{team}",
                    period.key,
                    result.settled,
                    result.budget_pico or 0,
                    amount,
                    period.end_ts,
                    period.reset_text(),
                )
            except Exception:
                _log.exception("budget cut-off hook failed for %s", team)
        message = refusal_message(
            team=owner,
            settled=result.settled,
            budget=result.budget_pico or 0,
            amount=amount,
            period_key=period.key,
            reset_text=period.reset_text(),
        )
        # What is left in the tightest budget (settled spend only: reservations settle).
        available = [
            s.budget_pico - result.totals.get(s.key, self._totals.get(s.key, _ZERO)).settled
            for s in scopes
            if s.budget_pico is not None
        ]
        return BudgetExceeded(
            message,
            reason="org_budget" if owner is None else "team_budget",
            available_pusd=max(min(available), 0) if available else None,
            worst_pusd=amount,
        )

    def _wait_timeout(
        self, team: str, result: ReserveResult, amount: int, period: BudgetPeriod, waited: float
    ) -> BudgetExceeded:
        message = wait_timeout_message(
            team=self._scope_owner(result, team),
            settled=result.settled,
            reserved=result.reserved,
            budget=result.budget_pico or 0,
            amount=amount,
            period_key=period.key,
            waited_s=waited,
        )
        return BudgetExceeded(message, headers={"x-should-retry": "true", "retry-after": "1"})

    # --- settle / release ------------------------------------------------------------
    async def _settle(self, reservation: Reservation, actual_pico: int) -> None:
        counters, scopes, amount = self._counters, reservation.scopes, reservation.amount_pico
        try:
            totals = counters.settle_now(scopes, amount, actual_pico)
            if totals is None:
                totals = await counters.settle(scopes, amount, actual_pico)
        finally:
            self._signal()
        self._totals.update(totals)
        if self._on_settled is not None:
            self._report(reservation, totals)

    async def _release(self, reservation: Reservation) -> None:
        if reservation.amount_pico == 0:
            return
        try:
            totals = await self._counters.release(reservation.scopes, reservation.amount_pico)
        finally:
            self._signal()
        self._totals.update(totals)

    def _report(self, reservation: Reservation, totals: dict[str, ScopeTotals]) -> None:
        assert self._on_settled is not None
        period = reservation.period
        for scope_name, key, budget in (
            (
                f"team:{reservation.team}",
                team_scope_key(reservation.team, period),
                self._team_budgets.get(reservation.team),
            ),
            ("org", org_scope_key(period), self._org_budget),
        ):
            if budget is None or key not in totals:
                continue
            try:
                self._on_settled(scope_name, period, totals[key].settled, budget)
            except Exception:
                _log.exception("budget alert hook failed for %s", scope_name)

    def wake(self) -> None:
        """Wake every waiting request to try again (another instance settled or released)."""
        self._signal()

    def _signal(self) -> None:
        """Wake every waiter (they retry); later waiters get a fresh event."""
        self._changed.set()
        self._changed = asyncio.Event()

    # --- seeing it -----------------------------------------------------------------
    def remaining_pico(self, team: str) -> int | None:
        """What the team can still reserve this month: the tighter of its budget and the
        org's, each ``budget - settled - reserved`` floored at 0; None if neither is set.

        Cheap and synchronous (last known totals), for a header on every response.
        """
        period = self.period()
        left: int | None = None
        for scope in self._scopes(team, period.key):  # the team's, then the org's
            budget = scope.budget_pico
            if budget is not None:
                settled, reserved = self._totals.get(scope.key, _ZERO)
                scope_left = max(0, budget - settled - reserved)
                if left is None or scope_left < left:
                    left = scope_left
        return left

    def snapshot(self) -> list[BudgetStatus]:
        """This month's settled, reserved and budget of every team (sorted), then the org."""
        period = self.period()
        prefix, suffix = "team:", f":{period.key}"
        teams = set(self._team_budgets)
        teams.update(
            key[len(prefix) : -len(suffix)]
            for key in self._totals
            if key.startswith(prefix) and key.endswith(suffix)
        )
        rows = [
            self._status(f"team:{t}", t, team_scope_key(t, period.key), self._team_budgets.get(t))
            for t in sorted(teams)
        ]
        rows.append(self._status("org", None, org_scope_key(period.key), self._org_budget))
        return rows

    def _status(self, scope: str, team: str | None, key: str, budget: int | None) -> BudgetStatus:
        settled, reserved = self._totals.get(key, _ZERO)
        return BudgetStatus(scope, team, self._period.key, settled, reserved, budget)
