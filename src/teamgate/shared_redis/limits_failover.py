"""What the limits do when Redis cannot be reached: fail closed (503) or open (1/N each).

:class:`FailoverCounters` wraps :class:`~teamgate.shared_redis.limits.RedisCounters`.
While Redis answers it is a pass-through. When a call fails to reach Redis:

- ``closed`` (the default): :class:`~teamgate.http.errors.StateUnavailable` (503,
  ``gateway_state_unavailable``); nothing is admitted.
- ``open``: this instance decides alone, in memory, with every limit divided
  by ``instances`` (N), so N instances together stay within the global limits.

Redis is tried again on every call, so the gateway recovers by itself. A concurrency
slot is released where it was taken: its handle says whether memory or Redis holds it.

>>> # counters = FailoverCounters(RedisCounters(client), mode="closed", instances=3)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from teamgate.limits.counters import Decision, RateCheck, RoundTripCounters, SlotHandle
from teamgate.limits.memory import MemoryCounters
from teamgate.shared_redis.batching import REDIS_UNAVAILABLE
from teamgate.shared_redis.failover import Failover
from teamgate.shared_redis.limits import RedisCounters

log = logging.getLogger("teamgate.limits")

UNAVAILABLE_MESSAGE = (
    "The gateway cannot reach its shared state (Redis) and is failing closed; retry shortly."
)


class FailoverCounters(Failover[RedisCounters], RoundTripCounters):
    """Redis counters with a failure mode. See the module docstring."""

    def __init__(self, primary: RedisCounters, *, mode: str = "closed", instances: int = 1) -> None:
        super().__init__(
            primary, "rate limits", log, UNAVAILABLE_MESSAGE, mode=mode, instances=instances
        )
        self._memory = MemoryCounters() if self.open else None

    def _down(self, exc: BaseException) -> MemoryCounters:
        self.down(exc)  # raises when failing closed
        assert self._memory is not None
        return self._memory

    def _scaled(self, check: RateCheck) -> RateCheck:
        return RateCheck(check.key, self.share(check.limit), check.period, check.cost)

    async def acquire(self, checks: Sequence[RateCheck], now: float) -> Decision:
        try:
            decision = await self.primary.acquire(checks, now)
        except REDIS_UNAVAILABLE as exc:
            memory = self._down(exc)
            return memory.acquire_now([self._scaled(c) for c in checks], time.time())
        self.up()
        return decision

    async def refund(self, key: str, limit: int, period: float, amount: int, now: float) -> float:
        try:
            return await self.primary.refund(key, limit, period, amount, now)
        except REDIS_UNAVAILABLE:
            if self._memory is None:
                return now  # nothing to give back to; the bucket refills by itself
            return self._memory.refund_now(key, self.share(limit), period, amount, time.time())

    async def peek(self, key: str, limit: int, period: float, now: float) -> tuple[int, float]:
        try:
            return await self.primary.peek(key, limit, period, now)
        except REDIS_UNAVAILABLE:
            if self._memory is None:
                return limit, 0.0
            return self._memory.peek_now(key, self.share(limit), period, time.time())

    async def try_take_slot(self, key: str, limit: int) -> SlotHandle | None:
        try:
            return await self.primary.try_take_slot(key, limit)
        except REDIS_UNAVAILABLE as exc:
            memory = self._down(exc)
            return await memory.try_take_slot(key, self.share(limit))

    def holds_in_memory(self, slot: SlotHandle) -> bool:
        """Whether this slot is held in memory (taken while failing open)."""
        return slot.holder is self._memory  # (a handle's holder is never None)

    def _released_in_memory(self, slot: SlotHandle) -> bool:
        """Release ``slot`` in memory if memory holds it: whether it did."""
        if not self.holds_in_memory(slot):
            return False
        assert self._memory is not None
        return self._memory.release_slot_now(slot)

    def release_parts(self, slot: SlotHandle) -> tuple[str, str] | None:
        """For releasing ``slot`` in another script: the Redis key and holder id to remove,
        or None when there is nothing to remove in Redis (held in memory: released here now;
        or released already)."""
        if self._released_in_memory(slot):
            return None
        return self.primary.release_parts(slot)

    async def release_slot(self, slot: SlotHandle) -> None:
        if self._released_in_memory(slot):
            return
        try:
            await self.primary.release_slot(slot)
        except REDIS_UNAVAILABLE as exc:  # the lease runs out by itself
            log.warning("could not release a concurrency slot (lease will expire): %s", exc)
