"""What the limits do when Redis cannot be reached: fail closed (503) or open (1/N each).

:class:`FailoverCounters` wraps :class:`~teamgate.shared_redis.limits.RedisCounters`.
While Redis answers it is a pass-through. When a call fails to reach Redis:

- ``closed`` (the default): :class:`~teamgate.http.errors.StateUnavailable` (503,
  ``gateway_state_unavailable``); nothing is admitted.
- ``open``: this instance decides alone, in memory, with every limit divided
  by ``instances`` (N), so N instances together stay within the global limits.

Redis is tried again on every call, so the gateway recovers by itself.

>>> # counters = FailoverCounters(RedisCounters(client), mode="closed", instances=3)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from teamgate.limits.counters import Decision, RateCheck, RoundTripCounters
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
        self._slots_in_memory: dict[str, list[bool]] = {}

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

    async def try_take_slot(self, key: str, limit: int) -> bool:
        try:
            taken = await self.primary.try_take_slot(key, limit)
            in_memory = False
        except REDIS_UNAVAILABLE as exc:
            memory = self._down(exc)
            taken = await memory.try_take_slot(key, self.share(limit))
            in_memory = True
        if taken:
            self._slots_in_memory.setdefault(key, []).append(in_memory)
        return taken

    def took_in_redis(self, key: str, holder: str) -> None:
        """Note a slot of ``key`` taken in Redis by another script (the combined one)."""
        self.primary.hold(key, holder)
        self._slots_in_memory.setdefault(key, []).append(False)

    def _forget_slot(self, key: str) -> bool:
        """Forget one slot of ``key`` taken here: whether it was taken in memory."""
        held = self._slots_in_memory.get(key)
        in_memory = held.pop() if held else False
        if held is not None and not held:
            del self._slots_in_memory[key]
        return in_memory

    def give_back_holder(self, key: str) -> str | None:
        """For releasing one slot of ``key`` in another script: the Redis holder to remove,
        or None when the slot was held in memory (fail open; released here) or not at all."""
        if self._forget_slot(key) and self._memory is not None:
            self._memory.release_slot_now(key)
            return None
        return self.primary.pop_holder(key)

    async def release_slot(self, key: str) -> None:
        if self._forget_slot(key) and self._memory is not None:
            await self._memory.release_slot(key)
            return
        try:
            await self.primary.release_slot(key)
        except REDIS_UNAVAILABLE as exc:  # the lease runs out by itself
            log.warning("could not release a concurrency slot (lease will expire): %s", exc)
