"""RedisBudgetCounters: atomic reserve/settle/release, leases, ledger loads, replay."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import redis.asyncio as redis_asyncio

from teamgate.budget.counters import (
    BudgetScope,
    ReservationHandle,
    ReserveOutcome,
    ReserveResult,
    ScopeTotals,
)
from teamgate.ledger.summary import UsageGroup
from teamgate.shared_redis.batching import ScriptBatcher
from teamgate.shared_redis.budget import RedisBudgetCounters
from tests.unit.shared_redis.outage import OutageBatcher

Fixture = tuple[redis_asyncio.Redis, str]
PERIOD = "2026-11"
BIG = 10**18  # beyond 2^53: exact comparisons


class FakeLedger:
    def __init__(self, spend: dict[str, int]) -> None:
        self.spend = spend
        self.reads = 0

    async def usage_summary(
        self, start: float, end: float, group_by: Sequence[str] = ()
    ) -> list[UsageGroup]:
        self.reads += 1
        return [UsageGroup({"team": t}, 1, cost_pusd=c) for t, c in sorted(self.spend.items())]


def scopes(team_budget: int | None, org_budget: int | None = None) -> list[BudgetScope]:
    return [BudgetScope(f"team:a:{PERIOD}", team_budget), BudgetScope(f"org:{PERIOD}", org_budget)]


def make(
    fx: Fixture,
    ledger: FakeLedger | None = None,
    batcher: ScriptBatcher | None = None,
    **kw: float,
) -> RedisBudgetCounters:
    client, prefix = fx
    kw.setdefault("rebuild_delay_s", 0.0)
    return RedisBudgetCounters(
        client, prefix, spend_source=ledger or FakeLedger({}), batcher=batcher, **kw
    )


def held(result: ReserveResult) -> ReservationHandle:
    """The handle of a reservation that was made."""
    assert result.outcome is ReserveOutcome.OK and result.handle is not None
    return result.handle


async def test_reserve_settle_release_with_int64_money(redis_prefix: Fixture) -> None:
    c = make(redis_prefix, FakeLedger({"a": BIG - 10, "b": 5}))
    s = scopes(BIG, None)
    first = held(await c.reserve(s, 10))  # loads the month first
    wait = await c.reserve(s, 1)
    assert wait.outcome is ReserveOutcome.WAIT and wait.scope_key == f"team:a:{PERIOD}"
    assert (wait.settled, wait.reserved) == (BIG - 10, 10)
    refused = await c.reserve(s, 11)
    assert refused.outcome is ReserveOutcome.REFUSED
    totals = await c.settle(first, 4)
    assert totals[f"team:a:{PERIOD}"] == ScopeTotals(BIG - 6, 0)
    assert totals[f"org:{PERIOD}"] == ScopeTotals(BIG - 10 + 5 + 4, 0)
    await c.release(held(await c.reserve(s, 6)))
    assert await c.totals(f"team:a:{PERIOD}") == ScopeTotals(BIG - 6, 0)


async def test_concurrent_reservations_never_overshoot(redis_prefix: Fixture) -> None:
    instances = [make(redis_prefix) for _ in range(3)]
    s = scopes(1000, 10_000)

    async def one(i: int) -> bool:
        c = instances[i % 3]
        r = await c.reserve(s, 30)
        if r.outcome is not ReserveOutcome.OK:
            return False
        assert r.handle is not None
        await c.settle(r.handle, 30)
        return True

    results = await asyncio.gather(*(one(i) for i in range(200)))
    totals = await instances[0].totals(f"team:a:{PERIOD}")
    assert totals.settled == 30 * sum(results) <= 1000 and totals.reserved == 0
    assert totals.settled > 1000 - 30 * 3  # it did spend the budget (waits were refused)


async def test_a_dead_instances_reservation_is_released_once(redis_prefix: Fixture) -> None:
    dead = make(redis_prefix, lease_s=0.3)  # never renews: as if SIGKILLed
    alive = make(redis_prefix, lease_s=0.3)
    await alive.start()
    s = scopes(100)
    try:
        assert (await alive.reserve(s, 40)).outcome is ReserveOutcome.OK
        dead_one = held(await dead.reserve(s, 50))
        assert (await alive.reserve(s, 20)).outcome is ReserveOutcome.WAIT
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while (await alive.reserve(s, 20)).outcome is not ReserveOutcome.OK:
            assert loop.time() < deadline
            await asyncio.sleep(0.05)
        # Reaped: 40 + 20 open. The dead one's late release does not release twice.
        await dead.release(dead_one)
        assert await alive.totals(f"team:a:{PERIOD}") == ScopeTotals(0, 60)
        await asyncio.sleep(0.5)  # the live leases were renewed: nothing reaped
        await alive.reserve(s, 0)
        assert await alive.totals(f"team:a:{PERIOD}") == ScopeTotals(0, 60)
    finally:
        await alive.close()


async def test_redis_restart_reloads_from_the_ledger_without_double_counting(
    redis_prefix: Fixture,
) -> None:
    client, prefix = redis_prefix
    ledger = FakeLedger({"a": 100})
    c = make(redis_prefix, ledger)
    s = scopes(1000)
    before = await c.reserve(s, 50)  # loads 100
    assert before.totals[f"team:a:{PERIOD}"] == ScopeTotals(100, 50)
    # Redis loses everything; the request in flight settles 50 and its ledger row lands.
    async for key in client.scan_iter(match=prefix + "*"):
        await client.delete(key)
    ledger.spend["a"] = 150
    await c.settle(held(before), 50)  # the month is not loaded: not counted here...
    r = await c.reserve(s, 10)  # ...but by the reload, once
    assert r.totals[f"team:a:{PERIOD}"] == ScopeTotals(150, 10)
    assert ledger.reads == 2
    await c.settle(held(r), 10)
    assert await c.totals(f"team:a:{PERIOD}") == ScopeTotals(160, 0)


async def test_a_reservation_from_before_a_reload_is_not_counted_again(
    redis_prefix: Fixture,
) -> None:
    client, prefix = redis_prefix
    ledger = FakeLedger({})
    c = make(redis_prefix, ledger)
    s = scopes(1000)
    old = held(await c.reserve(s, 50))
    await client.delete(prefix + f"budget:loaded:{PERIOD}")  # the month is reloaded...
    ledger.spend["a"] = 50  # ...from a ledger that has the request already
    await c.reserve(s, 1)
    await c.settle(old, 50)  # the old generation's settle: not added again
    assert (await c.totals(f"team:a:{PERIOD}")).settled == 50


async def test_only_one_instance_loads_a_month(redis_prefix: Fixture) -> None:
    ledger = FakeLedger({"a": 7})
    instances = [make(redis_prefix, ledger, rebuild_delay_s=0.1) for _ in range(5)]
    loaded = await asyncio.gather(*(c.ensure_loaded(PERIOD) for c in instances))
    assert sum(loaded) == 1 and ledger.reads == 1
    assert (await instances[3].totals(f"team:a:{PERIOD}")).settled == 7
    assert (await instances[3].totals(f"org:{PERIOD}")).settled == 7


async def test_settles_are_kept_and_replayed_when_redis_is_away(redis_prefix: Fixture) -> None:
    client, _ = redis_prefix
    outage = OutageBatcher(client)
    c = make(redis_prefix, batcher=outage)
    s = scopes(1000)
    reservation = held(await c.reserve(s, 100))
    outage.down = True  # Redis gone
    await c.settle(reservation, 70)  # does not raise
    assert c.pending == 1
    outage.down = False
    await c.replay()
    assert c.pending == 0
    assert await c.totals(f"team:a:{PERIOD}") == ScopeTotals(70, 0)


async def test_settles_publish_only_while_a_reserve_waits(redis_prefix: Fixture) -> None:
    client, _ = redis_prefix
    c = make(redis_prefix)
    s = scopes(100)
    pubsub = client.pubsub()
    await pubsub.subscribe(c.channel)
    await pubsub.get_message(timeout=1.0)  # the subscribe confirmation

    async def published() -> bool:
        return await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2) is not None

    try:
        await c.settle(held(await c.reserve(s, 60)), 10)  # nobody waits: no wake-up sent
        assert not await published()
        second = held(await c.reserve(s, 60))
        assert (await c.reserve(s, 60)).outcome is ReserveOutcome.WAIT  # sets the flag
        await c.release(second)
        assert await published()
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
