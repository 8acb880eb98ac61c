"""One Redis round trip on each side of a request: admission with reservation, then settle.

Without this, a request on Redis makes a script call per concurrency slot, one for
the rate checks, one for the budget reservation, then one for the settle, one per
TPM/TPD refund and one per slot release. :class:`CombinedGate` makes two:

- :meth:`CombinedGate.admit`: ``ACQUIRE_AND_RESERVE`` takes every slot and passes
  every GCRA check, all or nothing, then reserves the worst case in every budget
  scope if it fits, atomically (:mod:`teamgate.shared_redis.gate_lua`); the same
  steps in the same order as the limiter's admission followed by the book's
  reserve. When a slot or a check refuses, nothing is taken and the gate answers
  None: the limiter decides (:meth:`Limiter.admit
  <teamgate.limits.limiter.Limiter.admit>` refuses or queues as always). When the
  budget does not fit (refused, wait, or counters not loaded), the admission stands
  and the reservation is None: the caller reserves with :meth:`BudgetBook.reserve
  <teamgate.budget.book.BudgetBook.reserve>`, which refuses or waits as always.
  Redis unreachable: None, and the separate steps fail over as always.
- :meth:`CombinedGate.settle`: ``SETTLE_AND_CORRECT`` settles (or releases) the
  reservation, refunds the unused tokens and frees the slots in one script.

Both go through the instance's :class:`~teamgate.shared_redis.batching.ScriptBatcher`,
so concurrent requests still share pipelines. The limits and budget packages do
not know each other; this module, above both, joins them through their
"one step shared with another component" methods (``Limiter.direct_plan`` /
``admitted``, ``Ticket.closing`` / ``closed``, ``BudgetBook.direct_scopes`` /
``reserved`` / ``closed``, ``Reservation.closing``).

While either failover wrapper is degraded (Redis was unreachable), the gate
stands aside: the separate steps fail closed or open, and find Redis again.

>>> # gate = CombinedGate(shared.counters, shared.budget, shared.batcher)
>>> # both = await gate.admit(limiter, book, team, model, tokens, payer, worst_case)
>>> # ... ; await gate.settle(book, ticket, reservation, bill.tokens, bill.cost_pusd)
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from teamgate.budget import BudgetBook, Reservation
from teamgate.budget.counters import ScopeTotals
from teamgate.budget.scopes import Payer
from teamgate.limits.limiter import Limiter
from teamgate.limits.ticket import Closing, Ticket
from teamgate.shared_redis import gate_lua
from teamgate.shared_redis.backend import reply_float, reply_text
from teamgate.shared_redis.batching import REDIS_UNAVAILABLE, ScriptBatcher
from teamgate.shared_redis.budget_failover import FailoverBudgetCounters
from teamgate.shared_redis.limits_failover import FailoverCounters

log = logging.getLogger("teamgate.shared")

Admitted = tuple[Ticket, Reservation | None]


class CombinedGate:
    """Admission with reservation, and settle with corrections, one script call each."""

    def __init__(
        self, limits: FailoverCounters, budget: FailoverBudgetCounters, batcher: ScriptBatcher
    ) -> None:
        self._limits = limits
        self._budget = budget
        self._acquire = batcher.script(gate_lua.ACQUIRE_AND_RESERVE)
        self._settle = batcher.script(gate_lua.SETTLE_AND_CORRECT)
        self._background: set[asyncio.Future[None]] = set()

    def __repr__(self) -> str:
        return "CombinedGate()"

    def _usable(self) -> bool:
        return not self._limits.degraded and not self._budget.degraded

    # --- before forwarding ---------------------------------------------------------------
    async def admit(
        self,
        limiter: Limiter,
        book: BudgetBook,
        team: str,
        model: str,
        tokens: int,
        payer: Payer,
        worst_case_pico: int,
    ) -> Admitted | None:
        """The ticket and the reservation, in one script call. The reservation is None when
        the budget did not fit: the ticket stands, and the caller reserves in the book's own
        step (which refuses or waits). None, having taken nothing, when the limiter must
        decide (see the module docstring)."""
        if (
            limiter.counters is not self._limits
            or book.counters is not self._budget
            or not self._usable()
        ):
            return None
        plan = limiter.direct_plan(team, model, tokens)
        if plan is None:
            return None
        period_key, scopes = book.direct_scopes(payer)
        limits, budget = self._limits.primary, self._budget.primary
        slots, checks = plan.slots, plan.rate_checks
        holders = [limits.new_holder() for _ in slots]
        budgeted = any(s.budget_pico is not None for s in scopes)
        keys = [limits.slot_key(s.key) for s in slots]
        keys += [limits.rate_key(c.key) for c in checks]
        args: list[Any] = [len(slots), len(checks), len(scopes) if budgeted else 0, limits.lease_s]
        for slot, holder in zip(slots, holders, strict=True):
            args += [slot.limit, holder]
        for check in checks:
            args += [check.limit, repr(float(check.period)), check.cost]
        rid = ""
        if budgeted:
            budget_keys, budget_args, rid = budget.reserve_parts(scopes, worst_case_pico)
            keys += budget_keys
            args += budget_args

        def admitted(reply: Any) -> Admitted | None:
            """Note what the script took: the ticket, and the reservation if it was made
            (None: nothing was taken)."""
            if reply[0] in (b"slot", b"rate"):
                return None
            held = [limits.note_taken(s.key, h) for s, h in zip(slots, holders, strict=True)]
            ticket = limiter.admitted(plan, [reply_float(t) for t in reply[1]], held)
            if reply[0] != b"ok":  # the budget did not fit (or is being loaded)
                return ticket, None
            if not budgeted:  # nothing to reserve: the book counts the spend all the same
                return ticket, book.reserved(payer, period_key, scopes, None, {})
            handle, totals = budget.note_reserved(
                scopes, worst_case_pico, rid, reply_text(reply[2]), reply[3:]
            )
            return ticket, book.reserved(payer, period_key, scopes, handle, totals)

        call = self._acquire.submit(keys, args)
        try:
            reply = await asyncio.shield(call)  # a future, not a Task: nothing to schedule
        except REDIS_UNAVAILABLE as exc:
            log.debug("combined admission: Redis unavailable (%s); separate steps", exc)
            return None
        except asyncio.CancelledError:  # what the script took is given back once it answers
            call.add_done_callback(lambda done: self._undo_abandoned(book, admitted, done))
            raise
        return admitted(reply)

    def _undo_abandoned(
        self,
        book: BudgetBook,
        admitted: Callable[[Any], Admitted | None],
        call: asyncio.Future[Any],
    ) -> None:
        if call.cancelled() or call.exception() is not None:
            return
        both = admitted(call.result())
        if both is None:
            return
        undo = asyncio.ensure_future(self._discard(book, *both))
        self._background.add(undo)
        undo.add_done_callback(self._background.discard)

    async def _discard(
        self, book: BudgetBook, ticket: Ticket, reservation: Reservation | None
    ) -> None:
        if not await self.settle(book, ticket, reservation, 0, 0):
            await ticket.correct(0)
            await ticket.release()
            if reservation is not None:
                await reservation.release()

    # --- after the answer ------------------------------------------------------------------
    async def settle(
        self,
        book: BudgetBook,
        ticket: Ticket | None,
        reservation: Reservation | None,
        tokens: int,
        cost_pico: int,
    ) -> bool:
        """Settle the reservation for ``cost_pico`` (0: release it), correct the token
        counters to ``tokens`` and free the slots, in one script call. False, having done
        nothing, when the separate steps must do it (a degraded wrapper, a reservation
        held in memory, settles waiting for replay)."""
        if not self._usable() or (ticket is None and reservation is None):
            return False
        budget = self._budget.primary
        if reservation is not None and reservation.open:
            if budget.pending or self._budget.holds_in_memory(reservation.handle):
                return False
        else:
            reservation = None
        limits = self._limits.primary
        closing = ticket.closing(tokens) if ticket is not None else None
        refunds = closing.checks if closing is not None and closing.refund else ()
        keys = [limits.rate_key(c.key) for c in refunds]
        args: list[Any] = []
        for check in refunds:
            args += [check.limit, repr(float(check.period)), closing.refund]  # type: ignore[union-attr]
        holders = []
        for slot in closing.slots if closing is not None else ():
            part = self._limits.release_parts(slot)  # None: nothing held in Redis
            if part is not None:
                keys.append(part[0])
                holders.append(part[1])
        args += holders
        settling = _Settling(book, ticket, closing, reservation, cost_pico)
        # (closing() first: it marks the reservation closed even when there is nothing to send)
        if (
            reservation is not None
            and reservation.closing()
            and (reservation.amount_pico or cost_pico)
        ):
            settling.budget_part = budget.settle_parts(reservation.handle, cost_pico)
            assert settling.budget_part is not None  # nothing pending: checked, no await since
            keys += settling.budget_part[0]
            args += settling.budget_part[1]
        head = [len(refunds), len(holders), 1 if settling.budget_part is not None else 0]
        if not keys:
            self._finish(settling, None)
            return True
        send = self._settle.submit(keys, [*head, *args])
        done = functools.partial(self._settled, settling)
        try:
            await asyncio.shield(send)
        except REDIS_UNAVAILABLE:
            pass  # accounted for below
        except asyncio.CancelledError:  # the call was handed over: account for it when done
            send.add_done_callback(done)
            raise
        done(send)
        return True

    def _settled(self, settling: _Settling, call: asyncio.Future[Any]) -> None:
        reply = None
        if not call.cancelled():
            error = call.exception()
            if error is None:
                reply = call.result()
            elif isinstance(error, REDIS_UNAVAILABLE):
                # As the separate steps would: the settle is replayed, slot leases run out.
                log.warning("combined settle: Redis unavailable (%s)", error)
                if settling.budget_part is not None:
                    self._budget.primary.keep_for_replay(*settling.budget_part)
        self._finish(settling, reply)

    def _finish(self, settling: _Settling, reply: Any) -> None:
        """The limiter's and the book's bookkeeping after a settle (``reply`` None: unknown)."""
        ticket, closing, reservation = settling.ticket, settling.closing, settling.reservation
        if ticket is not None and closing is not None:
            ticket.closed(closing, [reply_float(t) for t in reply[0]] if reply is not None else [])
        if reservation is not None:
            totals: dict[str, ScopeTotals] = {}
            if reply is not None and settling.budget_part is not None:
                totals = self._budget.primary.totals_from(reservation.scopes, reply[1:])
            settling.book.closed(reservation, settling.cost_pico, totals)


@dataclass(slots=True)
class _Settling:
    """One combined settle: what it closes, and the budget's part of the script call
    (None: nothing to settle in Redis)."""

    book: BudgetBook
    ticket: Ticket | None
    closing: Closing | None
    reservation: Reservation | None
    cost_pico: int
    budget_part: tuple[tuple[str, ...], list[Any]] | None = None
