"""Failure modes with Redis unreachable: closed -> 503, open -> 1/N limits per instance."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis_asyncio

from teamgate.budget.counters import BudgetScope, ReserveOutcome
from teamgate.http.errors import StateUnavailable
from teamgate.limits.counters import RateCheck
from teamgate.shared_redis.budget import RedisBudgetCounters
from teamgate.shared_redis.budget_failover import FailoverBudgetCounters
from teamgate.shared_redis.client import redis_client
from teamgate.shared_redis.limits import RedisCounters
from teamgate.shared_redis.limits_failover import FailoverCounters


@pytest.fixture
async def dead_redis() -> AsyncIterator[redis_asyncio.Redis]:
    client = redis_client("redis://127.0.0.1:1/0", timeout_s=0.2)  # nothing listens there
    yield client
    await client.aclose()
    await client.connection_pool.aclose()  # type: ignore[no-untyped-call]


async def test_closed_refuses_with_state_unavailable(dead_redis: redis_asyncio.Redis) -> None:
    limits = FailoverCounters(RedisCounters(dead_redis), mode="closed", instances=3)
    with pytest.raises(StateUnavailable) as err:
        await limits.acquire([RateCheck("org:rpm", 60, 60.0, 1)], 0.0)
    assert err.value.status == 503 and err.value.code == "gateway_state_unavailable"
    with pytest.raises(StateUnavailable):
        await limits.try_take_slot("k", 5)
    budget = FailoverBudgetCounters(RedisBudgetCounters(dead_redis), mode="closed")
    with pytest.raises(StateUnavailable):
        await budget.reserve([BudgetScope("team:a:2026-11", 100)], 1)


async def test_open_limits_each_instance_to_its_share(dead_redis: redis_asyncio.Redis) -> None:
    limits = FailoverCounters(RedisCounters(dead_redis), mode="open", instances=3)
    check = [RateCheck("team:a:rpm", 60, 60.0, 1)]
    allowed = [(await limits.acquire(check, 0.0)).allowed for _ in range(30)]
    assert sum(allowed) == 20 and limits.degraded
    held = await limits.try_take_slot("k", 6)
    assert held is not None and limits.holds_in_memory(held)
    assert await limits.try_take_slot("k", 6)
    assert not await limits.try_take_slot("k", 6)  # 6 // 3
    await limits.release_slot(held)
    assert await limits.try_take_slot("k", 6)


async def test_open_budget_reserves_a_share_of_the_headroom(
    dead_redis: redis_asyncio.Redis,
) -> None:
    primary = RedisBudgetCounters(dead_redis)
    budget = FailoverBudgetCounters(primary, mode="open", instances=2)
    scopes = [BudgetScope("team:a:2026-11", 100)]
    held = await budget.reserve(scopes, 50)
    assert held.outcome is ReserveOutcome.OK and held.handle is not None
    assert (await budget.reserve(scopes, 1)).outcome is ReserveOutcome.WAIT  # 100 // 2 held
    await budget.settle(held.handle, 30)
    assert primary.pending == 1  # the spend is charged to Redis once it is back
