"""The budget-counter protocol, and its in-memory backend.

A backend keeps, per scope key (``"team:chatbot:2026-11"``, ``"org:2026-11"``),
two integers in picodollars: the *settled* spend and the sum of *open
reservations*. Every method is one atomic step across all the scopes it is
given, so a Redis backend implements each as one Lua script; the in-memory
backend gets atomicity for free because its methods never await.

Decision rule of :meth:`BudgetCounters.reserve`, per scope with a budget:

- ``settled + amount > budget`` in any scope -> ``REFUSED`` (that scope reported);
- else ``settled + reserved + amount > budget`` in any scope -> ``WAIT``
  (the amount fits once open reservations settle or are released);
- else ``OK``: ``amount`` is added to the reservations of *every* scope.

A scope whose ``budget_pico`` is ``None`` is counted but never limits.

>>> import asyncio
>>> c = MemoryBudgetCounters()
>>> scopes = [BudgetScope("team:a:2026-11", 100), BudgetScope("org:2026-11", None)]
>>> first = asyncio.run(c.reserve(scopes, 60))
>>> first.outcome
<ReserveOutcome.OK: 'ok'>
>>> asyncio.run(c.reserve(scopes, 60)).outcome  # fits beside settled 0, not beside reserved 60
<ReserveOutcome.WAIT: 'wait'>
>>> asyncio.run(c.settle(first.handle, 25))["team:a:2026-11"]  # the handle says what to close
ScopeTotals(settled=25, reserved=0)

Reservations are closed by handle: :meth:`BudgetCounters.reserve` answers ``OK`` with a
:class:`ReservationHandle`, and :meth:`~BudgetCounters.settle` /
:meth:`~BudgetCounters.release` take it back. The handle carries what closing needs
(the scopes, the amount, the backend that holds it and its own id there), so two
reservations with the same scopes and amount are never mistaken for each other.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol


@dataclass(frozen=True, slots=True)
class BudgetScope:
    """A counter key and its budget in picodollars (``None``: counted, unlimited)."""

    key: str
    budget_pico: int | None


class ScopeTotals(NamedTuple):
    """Settled spend and open reservations of one scope, picodollars."""

    settled: int
    reserved: int


class ReservationHandle:
    """One open reservation, as the backend that took it knows it: what ``settle`` and
    ``release`` need, so no caller rebuilds it. Opaque to callers (pass it back as it
    is); only the backends read its fields. Two handles are the same reservation only
    if they are the same object.

    ``holder`` is the backend that holds it (None: nothing is held, see
    :func:`unreserved`); ``rid`` and ``generation`` are its id and the counters'
    generation in that backend (empty where the backend has none).
    """

    __slots__ = ("amount", "generation", "holder", "rid", "scopes")

    def __init__(
        self,
        scopes: Sequence[BudgetScope],
        amount: int,
        holder: object = None,
        rid: str = "",
        generation: str = "",
    ) -> None:
        self.scopes = scopes
        self.amount = amount
        self.holder = holder
        self.rid = rid
        self.generation = generation

    def __repr__(self) -> str:
        return f"ReservationHandle(amount={self.amount}, scopes={len(self.scopes)})"


def unreserved(scopes: Sequence[BudgetScope]) -> ReservationHandle:
    """A handle that holds nothing: settling it charges spend to ``scopes`` without a
    reservation to drop (a request with no budget to reserve against, which is still
    counted); releasing it does nothing.

    >>> import asyncio
    >>> c = MemoryBudgetCounters()
    >>> s = [BudgetScope("org:2026-11", 10)]
    >>> asyncio.run(c.settle(unreserved(s), 4))["org:2026-11"]
    ScopeTotals(settled=4, reserved=0)
    """
    return ReservationHandle(scopes, 0)


class ReserveOutcome(enum.Enum):
    OK = "ok"
    REFUSED = "refused"
    WAIT = "wait"


@dataclass(frozen=True, slots=True)
class ReserveResult:
    """What :meth:`BudgetCounters.reserve` decided.

    For ``REFUSED`` and ``WAIT``, ``scope_key`` names the scope that decided it and
    ``settled``/``reserved``/``budget_pico`` are that scope's numbers. ``totals``
    holds every given scope's totals after the step (for cheap local caches). For
    ``OK``, ``handle`` is the reservation, to settle or release.
    """

    outcome: ReserveOutcome
    scope_key: str | None = None
    settled: int = 0
    reserved: int = 0
    budget_pico: int | None = None
    totals: Mapping[str, ScopeTotals] = field(default_factory=dict)
    handle: ReservationHandle | None = None


def budget_rule(
    scopes: Sequence[BudgetScope],
    settled_of: Mapping[str, int],
    reserved_of: Mapping[str, int],
    amount: int,
) -> tuple[ReserveOutcome, BudgetScope | None]:
    """The decision rule (see the module docstring), the one copy of it in Python: the
    outcome and the scope that decided a refusal or a wait. The Redis script applies the
    same rule in Lua.

    >>> scopes = [BudgetScope("team:a", 100), BudgetScope("org", None)]
    >>> budget_rule(scopes, {"team:a": 50}, {"team:a": 30}, 40)[0]
    <ReserveOutcome.WAIT: 'wait'>
    >>> budget_rule(scopes, {"team:a": 70}, {}, 40)[0]
    <ReserveOutcome.REFUSED: 'refused'>
    """
    waiting: BudgetScope | None = None
    for scope in scopes:  # the common case decides in this one pass: every scope fits
        budget = scope.budget_pico
        if budget is None:
            continue
        key = scope.key
        if settled_of.get(key, 0) + reserved_of.get(key, 0) + amount > budget:
            if settled_of.get(key, 0) + amount > budget:
                return ReserveOutcome.REFUSED, _first_refusing(scopes, settled_of, amount)
            waiting = waiting or scope
    if waiting is not None:
        refusing = _first_refusing(scopes, settled_of, amount)
        if refusing is not None:
            return ReserveOutcome.REFUSED, refusing
        return ReserveOutcome.WAIT, waiting
    return ReserveOutcome.OK, None


def _first_refusing(
    scopes: Sequence[BudgetScope], settled_of: Mapping[str, int], amount: int
) -> BudgetScope | None:
    for scope in scopes:
        budget = scope.budget_pico
        if budget is not None and settled_of.get(scope.key, 0) + amount > budget:
            return scope
    return None


class BudgetCounters(Protocol):
    """Atomic budget counters; see the module docstring for the decision rule.

    Fast paths are part of the protocol: :meth:`reserve_now` and :meth:`settle_now`
    answer synchronously when the backend can (memory), or None when the answer
    needs a round trip (Redis): the book then awaits :meth:`reserve` / :meth:`settle`.
    """

    def reserve_now(
        self, scopes: Sequence[BudgetScope], amount: int, totals: dict[str, ScopeTotals]
    ) -> ReservationHandle | None:
        """:meth:`reserve` when its outcome is ``OK``, synchronously: the handle, the
        scopes' totals written into ``totals``. None, having changed nothing, otherwise or
        when this backend cannot answer without a round trip: await :meth:`reserve`."""
        ...

    def settle_now(self, handle: ReservationHandle, actual: int) -> dict[str, ScopeTotals] | None:
        """:meth:`settle` synchronously, or None: await :meth:`settle`."""
        ...

    async def reserve(self, scopes: Sequence[BudgetScope], amount: int) -> ReserveResult:
        """Reserve ``amount`` against all ``scopes`` at once, or none of them (``OK``: the
        result's ``handle`` is the reservation)."""
        ...

    async def settle(self, handle: ReservationHandle, actual: int) -> dict[str, ScopeTotals]:
        """Drop the reservation and add ``actual`` to the settled spend of its scopes.

        ``actual`` may exceed the amount reserved (an estimated cost): it is settled
        anyway. Returns the totals of the scopes after the step.
        """
        ...

    async def release(self, handle: ReservationHandle) -> dict[str, ScopeTotals]:
        """Drop the reservation without spending it."""
        ...

    async def totals(self, scope_key: str) -> ScopeTotals:
        """``(settled, reserved)`` of one scope; zeros for a scope never seen."""
        ...

    async def load_settled(self, scope_key: str, settled: int) -> None:
        """Set the settled spend of a scope (from the ledger), keeping its reservations."""
        ...


class MemoryBudgetCounters:
    """:class:`BudgetCounters` in one process's memory (the single-instance default).

    >>> import asyncio
    >>> c = MemoryBudgetCounters()
    >>> s = [BudgetScope("org:2026-11", 10)]
    >>> held = asyncio.run(c.reserve(s, 6)).handle
    >>> asyncio.run(c.release(held))["org:2026-11"]
    ScopeTotals(settled=0, reserved=0)
    """

    def __init__(self) -> None:
        self._settled: dict[str, int] = {}
        self._reserved: dict[str, int] = {}

    def _totals(self, key: str) -> ScopeTotals:
        return ScopeTotals(self._settled.get(key, 0), self._reserved.get(key, 0))

    def _all_totals(self, scopes: Sequence[BudgetScope]) -> dict[str, ScopeTotals]:
        return {s.key: self._totals(s.key) for s in scopes}

    def reserve_now(
        self, scopes: Sequence[BudgetScope], amount: int, totals: dict[str, ScopeTotals]
    ) -> ReservationHandle | None:
        """:meth:`reserve` when its outcome is ``OK``, synchronously: reserve ``amount``
        in every scope, write their totals into ``totals`` and return the handle.
        Otherwise change nothing and return None (call :meth:`reserve` for the refusal's
        details).
        """
        if amount < 0:
            raise ValueError("a reservation cannot be negative")
        settled_of, reserved_of = self._settled, self._reserved
        if budget_rule(scopes, settled_of, reserved_of, amount)[0] is not ReserveOutcome.OK:
            return None
        for scope in scopes:
            key = scope.key
            reserved = reserved_of[key] = reserved_of.get(key, 0) + amount
            totals[key] = ScopeTotals(settled_of.get(key, 0), reserved)
        return ReservationHandle(scopes, amount, self)

    def _held(self, handle: ReservationHandle) -> int:
        """The amount ``handle`` holds here (0 for :func:`unreserved`); a ValueError for
        a handle another backend holds (closing it here would close the wrong one)."""
        if handle.holder is not self and handle.holder is not None:
            raise ValueError("this reservation is held by another budget backend")
        return handle.amount

    def settle_now(self, handle: ReservationHandle, actual: int) -> dict[str, ScopeTotals]:
        """:meth:`settle`, synchronously (this backend never waits)."""
        if actual < 0:
            raise ValueError("a cost cannot be negative")
        if handle.holder is not self and handle.holder is not None:
            self._held(handle)  # raises: another backend holds it
        held = handle.amount
        settled_of, reserved_of = self._settled, self._reserved
        out: dict[str, ScopeTotals] = {}
        for scope in handle.scopes:
            key = scope.key
            settled = settled_of[key] = settled_of.get(key, 0) + actual
            left = reserved_of[key] = max(0, reserved_of.get(key, 0) - held)
            out[key] = ScopeTotals(settled, left)
        return out

    async def reserve(self, scopes: Sequence[BudgetScope], amount: int) -> ReserveResult:
        if amount < 0:
            raise ValueError("a reservation cannot be negative")
        outcome, deciding = budget_rule(scopes, self._settled, self._reserved, amount)
        if deciding is not None:
            settled, reserved = self._totals(deciding.key)
            return ReserveResult(
                outcome,
                scope_key=deciding.key,
                settled=settled,
                reserved=reserved,
                budget_pico=deciding.budget_pico,
                totals=self._all_totals(scopes),
            )
        for scope in scopes:
            self._reserved[scope.key] = self._reserved.get(scope.key, 0) + amount
        handle = ReservationHandle(scopes, amount, self)
        return ReserveResult(ReserveOutcome.OK, totals=self._all_totals(scopes), handle=handle)

    async def settle(self, handle: ReservationHandle, actual: int) -> dict[str, ScopeTotals]:
        return self.settle_now(handle, actual)

    async def release(self, handle: ReservationHandle) -> dict[str, ScopeTotals]:
        held = self._held(handle)
        for scope in handle.scopes:
            self._reserved[scope.key] = max(0, self._reserved.get(scope.key, 0) - held)
        return self._all_totals(handle.scopes)

    async def totals(self, scope_key: str) -> ScopeTotals:
        return self._totals(scope_key)

    async def load_settled(self, scope_key: str, settled: int) -> None:
        self._settled[scope_key] = settled


class RoundTripBudgetCounters:
    """The fast-path half of :class:`BudgetCounters` for a backend with no synchronous
    answers (Redis and its failover wrapper): every ``*_now`` declines, so the caller
    awaits the round trip."""

    def reserve_now(
        self, scopes: Sequence[BudgetScope], amount: int, totals: dict[str, ScopeTotals]
    ) -> ReservationHandle | None:
        return None

    def settle_now(self, handle: ReservationHandle, actual: int) -> dict[str, ScopeTotals] | None:
        return None
