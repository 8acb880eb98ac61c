"""Redis :class:`~teamgate.limits.counters.Counters`: limits shared by every gateway instance.

Each admission decision is ONE atomic ``EVALSHA`` over all its GCRA keys
(sent with the other script calls of the same loop iteration as one pipeline,
:mod:`teamgate.shared_redis.batching`)
(all-or-nothing, see :mod:`teamgate.shared_redis.limits_lua`), with the time taken
from Redis so every instance uses the same clock (the ``now`` arguments of the
protocol are ignored). A TAT key expires when its bucket is full again.

Concurrency slots are leased: the holders of ``KEY`` are members of a sorted
set scored by lease expiry. This instance renews its holders every
``lease_s / 3`` (:meth:`RedisCounters.start`); a SIGKILLed instance stops
renewing and its slots are reclaimed by the next ``try_take_slot`` after at
most ``lease_s``. A slot's :class:`~teamgate.limits.counters.SlotHandle` carries its
holder id, so releasing it removes exactly that holder.

Usage::

    client = redis.asyncio.Redis.from_url("redis://127.0.0.1:6379/0")
    counters = RedisCounters(client, prefix="teamgate:")
    await counters.start()
    limiter = Limiter(settings, counters, slot_recheck_s=0.2)
    ...
    await counters.close()

Redis failures raise redis's ``ConnectionError``/``TimeoutError``; the
:class:`~teamgate.shared_redis.limits_failover.FailoverCounters` wrapper turns them into a
503 (fail closed) or per-instance limits (fail open).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from teamgate.limits.counters import (
    Decision,
    RateCheck,
    RoundTripCounters,
    SlotHandle,
    check_holder,
)
from teamgate.shared_redis import limits_lua as redis_lua
from teamgate.shared_redis.backend import RedisBackend, reply_float
from teamgate.shared_redis.batching import ScriptBatcher

log = logging.getLogger("teamgate.limits")


class RedisCounters(RedisBackend, RoundTripCounters):
    """GCRA rate counters and leased concurrency slots in Redis. See the module docstring."""

    def __init__(
        self,
        client: Redis,
        prefix: str = "teamgate:",
        *,
        lease_s: float = 30.0,
        batcher: ScriptBatcher | None = None,
    ) -> None:
        super().__init__(
            client, prefix + "rl:", "teamgate-slot-leases", lease_s=lease_s, batcher=batcher
        )
        self._instance = uuid.uuid4().hex[:12]
        self._serial = 0
        self._held: set[SlotHandle] = set()  # the slots this instance holds
        self._acquire = self._batcher.script(redis_lua.ACQUIRE)
        self._refund = self._batcher.script(redis_lua.REFUND)
        self._peek = self._batcher.script(redis_lua.PEEK)
        self._take = self._batcher.script(redis_lua.TAKE_SLOT)
        self._renew = self._batcher.script(redis_lua.RENEW_SLOTS)

    # --- lifecycle ---------------------------------------------------------------
    async def _background(self) -> None:
        """Renew this instance's slot leases."""
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                await self.renew_slots()
            except Exception as exc:  # Redis away: the next round tries again
                log.warning("could not renew concurrency slot leases: %s", exc)

    async def renew_slots(self) -> int:
        """Extend every slot lease this instance holds; how many were still held."""
        held = list(self._held)
        if not held:
            return 0
        keys = [self._slot_key(slot.key) for slot in held]
        return int(await self._renew(keys=keys, args=[self.lease_s, *(s.sid for s in held)]))

    # --- rates -------------------------------------------------------------------
    def _key(self, key: str) -> str:
        return self._prefix + key

    rate_key = _key  # the Redis key of a rate counter (for the combined scripts)

    def _slot_key(self, key: str) -> str:
        return self._prefix + "slot:" + key

    slot_key = _slot_key  # the Redis key of a concurrency slot set

    async def acquire(self, checks: Sequence[RateCheck], now: float) -> Decision:
        if not checks:
            return Decision(True, 0.0, (), 0, ())
        args: list[Any] = []
        for c in checks:
            args += [c.limit, repr(float(c.period)), c.cost]
        reply = await self._acquire(keys=[self._key(c.key) for c in checks], args=args)
        allowed, retry, blocking, remaining, tats, _now = reply
        return Decision(
            allowed=bool(allowed),
            retry_after=reply_float(retry),
            blocking=tuple(int(i) for i in blocking),
            blocked_remaining=int(remaining),
            tats=tuple(reply_float(t) for t in tats),
        )

    async def refund(self, key: str, limit: int, period: float, amount: int, now: float) -> float:
        reply = await self._refund(keys=[self._key(key)], args=[limit, repr(float(period)), amount])
        return reply_float(reply)

    async def peek(self, key: str, limit: int, period: float, now: float) -> tuple[int, float]:
        remaining, reset = await self._peek(
            keys=[self._key(key)], args=[limit, repr(float(period))]
        )
        return int(remaining), reply_float(reset)

    # --- concurrency slots ---------------------------------------------------------
    def new_holder(self) -> str:
        """A fresh holder id of this instance (a slot's member in its sorted set)."""
        self._serial += 1
        return f"{self._instance}:{self._serial}"

    def note_taken(self, key: str, holder: str) -> SlotHandle:
        """Note a slot of ``key`` another script took as ``holder`` (its lease is renewed
        from now on): its handle."""
        slot = SlotHandle(key, self, holder)
        self._held.add(slot)
        return slot

    def release_parts(self, slot: SlotHandle) -> tuple[str, str] | None:
        """The Redis key and holder id of releasing ``slot`` in another script, the slot now
        counted as released here (no longer renewed); None if released already."""
        check_holder(slot, self)
        if slot not in self._held:
            return None
        self._held.discard(slot)
        return self._slot_key(slot.key), slot.sid

    async def try_take_slot(self, key: str, limit: int) -> SlotHandle | None:
        holder = self.new_holder()
        taken = await self._take(keys=[self._slot_key(key)], args=[limit, holder, self.lease_s])
        return self.note_taken(key, holder) if taken else None

    async def release_slot(self, slot: SlotHandle) -> None:
        parts = self.release_parts(slot)
        if parts is not None:
            await self._client.zrem(*parts)

    async def slots_taken(self, key: str) -> int:
        """Live holders of ``key`` across every instance (expired leases not counted)."""
        now = reply_float((await self._client.time())[0])
        return int(await self._client.zcount(self._slot_key(key), now, "+inf"))
