"""RedisCounters: the same GCRA decisions as the memory backend, atomic, with leased slots."""

from __future__ import annotations

import asyncio
import math

import pytest
import redis.asyncio as redis_asyncio

from teamgate.limits.counters import RateCheck
from teamgate.shared_redis.limits import RedisCounters

Fixture = tuple[redis_asyncio.Redis, str]


async def test_rpm_admits_exactly_the_limit(redis_prefix: Fixture) -> None:
    counters = RedisCounters(*redis_prefix)
    check = [RateCheck("team:a:rpm", 60, 60.0, 1)]
    decisions = await asyncio.gather(*(counters.acquire(check, 0.0) for _ in range(100)))
    assert sum(d.allowed for d in decisions) == 60
    refused = next(d for d in decisions if not d.allowed)
    assert refused.blocking == (0,) and refused.blocked_remaining == 0
    assert 0 < refused.retry_after <= 1.0 + 1e-3


async def test_acquire_is_all_or_nothing(redis_prefix: Fixture) -> None:
    counters = RedisCounters(*redis_prefix)
    team = RateCheck("team:a:tpm", 1000, 60.0, 600)
    org = RateCheck("org:tpm", 500, 60.0, 600)
    decision = await counters.acquire([team, org], 0.0)
    assert not decision.allowed and decision.blocking == (1,)
    # The team's check passed but was not committed: its whole limit is left.
    remaining, _ = await counters.peek("team:a:tpm", 1000, 60.0, 0.0)
    assert remaining == 1000
    too_big = await counters.acquire([RateCheck("team:a:tpm", 1000, 60.0, 2000)], 0.0)
    assert math.isinf(too_big.retry_after)


async def test_refund_and_peek(redis_prefix: Fixture) -> None:
    counters = RedisCounters(*redis_prefix)
    assert (await counters.acquire([RateCheck("team:a:tpm", 1000, 60.0, 800)], 0.0)).allowed
    remaining, reset = await counters.peek("team:a:tpm", 1000, 60.0, 0.0)
    assert remaining == 200 and 47.9 < reset <= 48.0
    await counters.refund("team:a:tpm", 1000, 60.0, 500, 0.0)
    remaining, _ = await counters.peek("team:a:tpm", 1000, 60.0, 0.0)
    assert remaining == 700
    tat = await counters.refund("team:never:tpm", 1000, 60.0, 500, 0.0)
    assert tat > 1.7e9  # Redis time, nothing stored


async def test_slots_are_counted_across_instances(redis_prefix: Fixture) -> None:
    a, b = RedisCounters(*redis_prefix), RedisCounters(*redis_prefix)
    assert await a.try_take_slot("team:a:concurrency", 2)
    held = await b.try_take_slot("team:a:concurrency", 2)
    assert held is not None
    assert not await a.try_take_slot("team:a:concurrency", 2)
    await b.release_slot(held)
    await b.release_slot(held)  # not held any more: nothing happens
    assert await a.slots_taken("team:a:concurrency") == 1
    assert await b.try_take_slot("team:a:concurrency", 2)


async def test_a_dead_instances_slots_are_reclaimed_after_the_lease(redis_prefix: Fixture) -> None:
    dead = RedisCounters(*redis_prefix, lease_s=0.3)  # never renews: as if SIGKILLed
    alive = RedisCounters(*redis_prefix, lease_s=0.3)
    await alive.start()
    try:
        assert await dead.try_take_slot("k", 2)
        assert await alive.try_take_slot("k", 2)
        assert not await alive.try_take_slot("k", 2)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while not await alive.try_take_slot("k", 2):  # the dead one's lease runs out
            assert loop.time() < deadline
            await asyncio.sleep(0.05)
        # The live holder's lease was renewed all along: still counted.
        assert await alive.slots_taken("k") == 2
    finally:
        await alive.close()


@pytest.mark.parametrize("n", [1, 3])
async def test_scripts_survive_a_script_flush(redis_prefix: Fixture, n: int) -> None:
    client, prefix = redis_prefix
    counters = RedisCounters(client, prefix)
    await client.script_flush()  # as after a Redis restart
    checks = [RateCheck(f"k{i}", 10, 60.0, 1) for i in range(n)]
    assert (await counters.acquire(checks, 0.0)).allowed
