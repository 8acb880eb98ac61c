"""In-memory :class:`~teamgate.limits.counters.Counters`: one process, no I/O.

Every method is a plain function under the hood (there is no ``await``
inside), so each call is atomic on the event loop. The ``*_now`` variants are
the same operations without a coroutine, for hot paths such as headers.

>>> import asyncio
>>> from teamgate.limits.counters import RateCheck
>>> c = MemoryCounters()
>>> asyncio.run(c.acquire([RateCheck("org:rpm", 2, 60.0, 1)], now=0.0)).allowed
True
>>> c.peek_now("org:rpm", 2, 60.0, now=0.0)
(1, 30.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from teamgate.limits.counters import Decision, RateCheck, SlotHandle, check_holder
from teamgate.limits.gcra import gcra_admit, gcra_check, gcra_peek, gcra_refund

if TYPE_CHECKING:
    from teamgate.limits.fast_admit import FastPlan
    from teamgate.limits.plan import PlannedSlot


class MemoryCounters:
    """TATs in a dict of floats, concurrency slots in a dict of ints."""

    suspends = False
    """Its coroutines never yield to the loop, so a caller cannot be cancelled mid-call;
    every ``*_now`` method answers synchronously."""

    def __init__(self) -> None:
        self._tats: dict[str, float] = {}
        self._slots: dict[str, int] = {}

    def acquire_now(self, checks: Sequence[RateCheck], now: float) -> Decision:
        """Synchronous :meth:`acquire`."""
        # Fast path, the common case: every check passes. The same arithmetic as
        # gcra_check's admission test, without building a result per check.
        tats = self._tats
        new_tats = []
        for c in checks:
            new_tat = gcra_admit(tats.get(c.key, now), now, c.cost, c.limit, c.period)
            if new_tat is None:
                break  # refused, or invalid: the full check decides (or raises)
            new_tats.append(new_tat)
        else:
            for check, new_tat in zip(checks, new_tats, strict=True):
                tats[check.key] = new_tat
            return Decision(True, 0.0, (), 0, tuple(new_tats))
        results = [
            gcra_check(self._tats.get(c.key, now), now, c.cost, c.limit, c.period) for c in checks
        ]
        blocking = tuple(i for i, r in enumerate(results) if not r.allowed)
        if not blocking:
            for check, result in zip(checks, results, strict=True):
                self._tats[check.key] = result.new_tat
            return Decision(True, 0.0, (), 0, tuple(r.new_tat for r in results))
        return Decision(
            allowed=False,
            retry_after=max(results[i].retry_after for i in blocking),
            blocking=blocking,
            blocked_remaining=results[blocking[0]].remaining,
            tats=tuple(self._tats.get(c.key, now) for c in checks),
        )

    def try_acquire_now(
        self, specs: Sequence[tuple[str, int, float, bool]], tokens: int, now: float
    ) -> list[float] | None:
        """:meth:`acquire_now` for checks given as ``(key, limit, period, per_token)``,
        costing ``tokens`` when ``per_token`` else 1, when every one passes: their new
        TATs, stored. None, having changed nothing, when any would not (or is invalid)."""
        tats = self._tats
        new_tats = []
        for key, limit, period, per_token in specs:
            new_tat = gcra_admit(tats.get(key, now), now, tokens if per_token else 1, limit, period)
            if new_tat is None:
                return None
            new_tats.append(new_tat)
        for spec, new_tat in zip(specs, new_tats, strict=True):
            tats[spec[0]] = new_tat
        return new_tats

    async def acquire(self, checks: Sequence[RateCheck], now: float) -> Decision:
        return self.acquire_now(checks, now)

    def try_admit_now(
        self, fast: FastPlan, tokens: int, now: float, slots: list[SlotHandle]
    ) -> list[float] | None:
        """Take every slot of ``fast`` and charge every check (``tokens`` for token checks)
        at once: the new TATs, the slots' handles appended to ``slots``. None, having taken
        nothing, when any would refuse."""
        if fast.slots and not self.take_slots_now(fast.slots, slots):
            return None
        tats = self.try_acquire_now(fast.specs, tokens, now)
        if tats is None and fast.slots:
            for _ in fast.slots:
                self.release_slot_now(slots.pop())
        return tats

    def refund_now(self, key: str, limit: int, period: float, amount: int, now: float) -> float:
        """Synchronous :meth:`refund`."""
        tat = self._tats.get(key)
        if tat is None:
            return now
        new_tat = gcra_refund(tat, now, amount, limit, period)
        self._tats[key] = new_tat
        return new_tat

    async def refund(self, key: str, limit: int, period: float, amount: int, now: float) -> float:
        return self.refund_now(key, limit, period, amount, now)

    def peek_now(self, key: str, limit: int, period: float, now: float) -> tuple[int, float]:
        """Synchronous :meth:`peek`."""
        return gcra_peek(self._tats.get(key, now), now, limit, period)

    async def peek(self, key: str, limit: int, period: float, now: float) -> tuple[int, float]:
        return self.peek_now(key, limit, period, now)

    def take_slots_now(self, slots: Sequence[PlannedSlot], held: list[SlotHandle]) -> bool:
        """Take one of each slot, their handles appended to ``held``, or (when any is full)
        none of them: False."""
        taken_of = self._slots
        for slot in slots:
            if taken_of.get(slot.key, 0) >= slot.limit:
                return False
        for slot in slots:
            taken_of[slot.key] = taken_of.get(slot.key, 0) + 1
            held.append(SlotHandle(slot.key, self))
        return True

    def release_slot_now(self, slot: SlotHandle) -> bool:
        """Synchronous :meth:`release_slot` (always done: True); a ValueError for a slot
        another backend holds."""
        if slot.holder is not self:
            check_holder(slot, self)  # raises: another backend holds it
        key = slot.key
        taken = self._slots.get(key, 0)
        if taken <= 1:
            self._slots.pop(key, None)
        else:
            self._slots[key] = taken - 1
        return True

    async def try_take_slot(self, key: str, limit: int) -> SlotHandle | None:
        taken = self._slots.get(key, 0)
        if taken >= limit:
            return None
        self._slots[key] = taken + 1
        return SlotHandle(key, self)

    async def release_slot(self, slot: SlotHandle) -> None:
        self.release_slot_now(slot)

    def slots_taken(self, key: str) -> int:
        """How many slots of ``key`` are taken (for tests and metrics)."""
        return self._slots.get(key, 0)
