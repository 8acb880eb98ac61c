"""Concurrency slots are released through the handle ``try_take_slot`` returned, on every
backend.

A table over every limits backend (memory, Redis, the failover wrapper healthy and
failing open through an outage, the combined gate): take -> release through the handle,
in any order, keeps the slot counts exact. Then the bug class the old by-key release
allowed: two slots of the same key, one held in memory (taken during an outage) and one
in Redis, each free the backend that holds them, whichever is released first.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as redis_asyncio

from teamgate.budget import Reservation
from teamgate.limits.counters import Counters, RateCheck, SlotHandle
from teamgate.limits.memory import MemoryCounters
from teamgate.limits.ticket import Ticket
from teamgate.shared_redis.limits import RedisCounters
from teamgate.shared_redis.limits_failover import FailoverCounters
from tests.unit.shared_redis.outage import OutageBatcher
from tests.unit.shared_redis.test_combined_gate import TEAM, Parts, build

Fixture = tuple[redis_asyncio.Redis, str]
KEY = "team:a:concurrency"  # the combined gate's team has this slot
LIMIT = 5


def taken(slot: SlotHandle | None) -> SlotHandle:
    assert isinstance(slot, SlotHandle)
    return slot


class Slots:
    """A :class:`Counters` backend, driven through its slot handles."""

    def __init__(self, counters: Counters) -> None:
        self.counters = counters

    async def take(self) -> Any:
        return taken(await self.counters.try_take_slot(KEY, LIMIT))

    async def release(self, slot: Any) -> None:
        await self.counters.release_slot(slot)

    async def count(self) -> int:
        """How many slots of KEY the backend counts as taken."""
        assert isinstance(self.counters, MemoryCounters)
        return self.counters.slots_taken(KEY)

    async def after(self) -> int:
        """The count once everything is over (an outage ended)."""
        return await self.count()


class InRedis(Slots):
    """Redis, or the failover wrapper over it, healthy: Redis holds every slot."""

    def __init__(self, counters: RedisCounters | FailoverCounters) -> None:
        super().__init__(counters)
        self.redis = counters if isinstance(counters, RedisCounters) else counters.primary

    async def count(self) -> int:
        return await self.redis.slots_taken(KEY)

    async def after(self) -> int:
        assert await self.redis.renew_slots() == 0  # nothing released is renewed any more
        return await self.count()


class Outage(Slots):
    """The failover wrapper failing open through an outage: memory holds every slot."""

    def __init__(self, limits: FailoverCounters, outage: OutageBatcher) -> None:
        super().__init__(limits)
        self.limits, self.outage = limits, outage
        assert limits._memory is not None
        self.memory = limits._memory

    async def take(self) -> Any:
        slot = await super().take()
        assert self.limits.holds_in_memory(slot)  # taken in memory, not in Redis
        return slot

    async def count(self) -> int:
        return self.memory.slots_taken(KEY)

    async def after(self) -> int:
        self.outage.down = False
        assert await self.limits.primary.slots_taken(KEY) == 0  # Redis never held one
        return await self.count()


class Gate:
    """The combined gate: the slot taken with the admission, freed with the settle, one
    script each."""

    def __init__(self, parts: Parts) -> None:
        self.p = parts
        limits = parts.limiter.counters
        assert isinstance(limits, FailoverCounters)
        self.redis = limits.primary

    async def take(self) -> tuple[Ticket, Reservation]:
        p = self.p
        both = await p.gate.admit(p.limiter, p.book, "a", "m", 10, TEAM, 5)
        assert both is not None and both[1] is not None
        assert [taken(s).key for s in both[0].slots] == [KEY]
        return both[0], both[1]

    async def release(self, both: tuple[Ticket, Reservation]) -> None:
        assert await self.p.gate.settle(self.p.book, *both, 10, 0)

    async def count(self) -> int:
        return await self.redis.slots_taken(KEY)

    async def after(self) -> int:
        assert await self.redis.renew_slots() == 0
        return await self.count()


def redis(fx: Fixture, batcher: OutageBatcher | None = None) -> RedisCounters:
    return RedisCounters(*fx, batcher=batcher)


TABLE = ["memory", "redis", "failover-healthy", "failover-outage", "combined-gate"]


async def backend(name: str, fx: Fixture) -> Slots | Gate:
    """The table's row ``name``: that backend, over this test's Redis keys."""
    if name == "memory":
        return Slots(MemoryCounters())
    if name == "combined-gate":
        return Gate(await build(*fx, concurrency=LIMIT))
    outage = OutageBatcher(fx[0])
    if name == "redis":
        return InRedis(redis(fx, outage))
    limits = FailoverCounters(redis(fx, outage), mode="open")
    if name == "failover-healthy":
        return InRedis(limits)
    outage.down = True  # failing open through an outage
    return Outage(limits, outage)


@pytest.mark.parametrize("name", TABLE)
async def test_take_and_release_through_the_handle_keep_the_counts_exact(
    redis_prefix: Fixture, name: str
) -> None:
    b = await backend(name, redis_prefix)
    first, second, third = await b.take(), await b.take(), await b.take()
    assert await b.count() == 3
    await b.release(second)  # out of the order they were taken in
    assert await b.count() == 2
    await b.release(third)
    assert await b.count() == 1
    fourth = await b.take()
    assert await b.count() == 2
    await b.release(first)
    assert await b.count() == 1
    await b.release(fourth)
    assert await b.count() == 0
    assert await b.after() == 0


def test_a_handle_shows_its_key_only() -> None:
    slot = SlotHandle(KEY, MemoryCounters(), "instance:1")
    assert repr(slot) == "SlotHandle(key='team:a:concurrency')"


async def test_a_handle_is_released_only_by_the_backend_holding_it(
    redis_prefix: Fixture,
) -> None:
    memory, other = MemoryCounters(), redis(redis_prefix)
    in_redis = taken(await other.try_take_slot(KEY, LIMIT))
    with pytest.raises(ValueError, match="another limits backend"):
        await memory.release_slot(in_redis)
    in_memory = taken(await memory.try_take_slot(KEY, LIMIT))
    with pytest.raises(ValueError, match="another limits backend"):
        await other.release_slot(in_memory)
    assert (memory.slots_taken(KEY), await other.slots_taken(KEY)) == (1, 1)
    await other.release_slot(in_redis)
    await memory.release_slot(in_memory)
    assert (memory.slots_taken(KEY), await other.slots_taken(KEY)) == (0, 0)


@pytest.mark.parametrize(
    "memory_taken_first", [True, False], ids=["memory-taken-first", "redis-taken-first"]
)
@pytest.mark.parametrize(
    "redis_first", [True, False], ids=["redis-freed-first", "memory-freed-first"]
)
async def test_slots_in_memory_and_in_redis_each_free_where_held(
    redis_prefix: Fixture, redis_first: bool, memory_taken_first: bool
) -> None:
    """Two slots of the same key, one taken in memory during an outage and one in Redis
    (in either order): each release frees the backend that holds that slot."""
    outage = OutageBatcher(redis_prefix[0])
    limits = FailoverCounters(redis(redis_prefix, outage), mode="open")
    primary, memory = limits.primary, limits._memory
    assert memory is not None

    async def counts() -> tuple[int, int]:
        """(slots held in memory, slots held in Redis)"""
        return memory.slots_taken(KEY), await primary.slots_taken(KEY)

    async def take(in_memory: bool) -> SlotHandle:
        outage.down = in_memory
        slot = taken(await limits.try_take_slot(KEY, 10))
        outage.down = False
        assert limits.holds_in_memory(slot) is in_memory
        return slot

    if memory_taken_first:
        in_memory = await take(True)
        in_redis = await take(False)
    else:
        in_redis = await take(False)
        in_memory = await take(True)
    assert await counts() == (1, 1)
    if redis_first:
        await limits.release_slot(in_redis)
        assert await counts() == (1, 0)
        await limits.release_slot(in_memory)
    else:
        await limits.release_slot(in_memory)
        assert await counts() == (0, 1)
        await limits.release_slot(in_redis)
    assert await counts() == (0, 0)
    assert await primary.renew_slots() == 0  # the Redis slot is no longer renewed


async def test_the_gate_frees_its_redis_slot_beside_one_in_memory(redis_prefix: Fixture) -> None:
    """The combined gate frees in its one script exactly the slot Redis holds: a slot of
    the same key taken in memory during an outage (after the gate's) stays taken until
    its own ticket is released, in memory."""
    client, prefix = redis_prefix
    outage = OutageBatcher(client)
    p = await build(client, prefix, concurrency=LIMIT, batcher=outage, mode="open")
    limits = p.limiter.counters
    assert isinstance(limits, FailoverCounters) and limits._memory is not None
    memory, primary = limits._memory, limits.primary

    async def counts() -> tuple[int, int]:
        """(slots held in memory, slots held in Redis)"""
        return memory.slots_taken(KEY), await primary.slots_taken(KEY)

    both = await p.gate.admit(p.limiter, p.book, "a", "m", 10, TEAM, 5)  # a slot in Redis
    assert both is not None
    outage.down = True
    in_memory: Ticket = await p.limiter.admit("a", "m", 10)  # failing open: in memory
    outage.down = False
    assert (await limits.acquire([RateCheck("other:rpm", 9, 60.0, 1)], 0.0)).allowed
    assert not limits.degraded  # Redis answers again: the gate is usable
    assert [limits.holds_in_memory(s) for s in (*both[0].slots, *in_memory.slots)] == [
        False,
        True,
    ]
    assert await counts() == (1, 1)
    assert await p.gate.settle(p.book, *both, 10, 0)  # the gate's own ticket
    assert await counts() == (1, 0)
    await in_memory.release()
    assert await counts() == (0, 0)
