"""A request's hold on the budget (:class:`Reservation`): settle it or release it once.

The book (:mod:`teamgate.budget.book`) makes reservations; each keeps the handle its
counters returned (:class:`~teamgate.budget.counters.ReservationHandle`) and gives it
back to them as it is, so settling or releasing never rebuilds which reservation this
is from its scopes and amount.
"""

from __future__ import annotations

from typing import Protocol

from teamgate.budget.counters import BudgetScope, ReservationHandle


class Closer(Protocol):
    """The book's side of closing a reservation (what :class:`Reservation` calls)."""

    async def _settle(self, reservation: Reservation, actual_pico: int) -> None: ...

    async def _release(self, reservation: Reservation) -> None: ...


class Reservation:
    """An admitted request's hold on the budget; settle it or release it exactly once.

    Both methods are idempotent: only the first call of either has an effect. ``handle``
    is the counters' :class:`~teamgate.budget.counters.ReservationHandle`: settling or
    releasing passes it back to them as it is.

    >>> # r = await book.reserve("chatbot", worst_case_pico)
    >>> # ... forward the request ...; await r.settle(actual_cost_pico)  # or r.release()
    """

    __slots__ = ("_book", "_done", "handle", "period", "scopes", "team")

    def __init__(
        self,
        book: Closer,
        team: str,
        period: str,
        scopes: tuple[BudgetScope, ...],
        handle: ReservationHandle,
    ) -> None:
        self._book = book
        self._done = False
        self.team = team
        self.period = period
        self.scopes = scopes  # with their budgets (the handle's may be a hold's, unlimited)
        self.handle = handle

    @property
    def amount_pico(self) -> int:
        """What it holds, picodollars (0 when no scope has a budget)."""
        return self.handle.amount

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

    def closing(self) -> bool:
        """Settle or release handed over to the caller, who does it in one step of its own
        (one Redis script with the limits' corrections) and reports with
        :meth:`BudgetBook.closed <teamgate.budget.book.BudgetBook.closed>`. False if
        closed already (nothing to do)."""
        if self._done:
            return False
        self._done = True
        return True

    def __repr__(self) -> str:
        state = "closed" if self._done else "open"
        return f"Reservation(team={self.team!r}, amount_pico={self.amount_pico}, {state})"
