"""Reservations are closed through the handle ``reserve`` returned, on every backend.

A table over every budget backend (memory, Redis, the failover wrapper healthy and
failing open through an outage, the combined gate): reserve -> settle and reserve ->
release through the handle keep the totals exact. Then the bug class the old
``(scopes, amount)`` identity allowed: two reservations with the same scopes and the
same amount, one held in memory (taken during an outage) and one in Redis, each close
on the backend that holds it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
import redis.asyncio as redis_asyncio

from teamgate.budget import Reservation
from teamgate.budget.counters import (
    BudgetCounters,
    BudgetScope,
    MemoryBudgetCounters,
    ReservationHandle,
    ReserveOutcome,
    ReserveResult,
    ScopeTotals,
)
from teamgate.ledger.summary import UsageGroup
from teamgate.limits.ticket import Ticket
from teamgate.shared_redis.budget import RedisBudgetCounters
from teamgate.shared_redis.budget_failover import FailoverBudgetCounters
from tests.unit.shared_redis.outage import OutageBatcher
from tests.unit.shared_redis.test_combined_gate import TEAM, Parts, build

Fixture = tuple[redis_asyncio.Redis, str]
PERIOD = "2026-11"
KEY = f"team:a:{PERIOD}"
SCOPES = (BudgetScope(KEY, 1000), BudgetScope(f"org:{PERIOD}", None))


class NoSpend:
    async def usage_summary(
        self, start: float, end: float, group_by: Sequence[str] = ()
    ) -> list[UsageGroup]:
        return []


def held(result: ReserveResult) -> ReservationHandle:
    assert result.outcome is ReserveOutcome.OK and result.handle is not None
    return result.handle


class Counters:
    """A :class:`BudgetCounters` backend, driven through its handles; ``totals`` is what
    the backend answered last for the team scope (what the book keeps)."""

    def __init__(self, counters: BudgetCounters) -> None:
        self.counters = counters
        self.seen = ScopeTotals(0, 0)

    async def reserve(self, amount: int) -> Any:
        result = await self.counters.reserve(SCOPES, amount)
        self.seen = result.totals[KEY]
        return held(result)

    async def settle(self, handle: Any, actual: int) -> None:
        self.seen = (await self.counters.settle(handle, actual))[KEY]

    async def release(self, handle: Any) -> None:
        self.seen = (await self.counters.release(handle))[KEY]

    async def totals(self) -> ScopeTotals:
        truth = await self.counters.totals(KEY)
        assert truth == self.seen  # the answers of the steps agree with the backend
        return truth

    async def after(self) -> ScopeTotals:
        """The totals once everything is over (an outage ended, its spend replayed)."""
        return await self.totals()


class Outage(Counters):
    """The failover wrapper failing open through an outage: memory holds everything,
    and Redis gets the spend once it is back."""

    def __init__(self, budget: FailoverBudgetCounters, outage: OutageBatcher) -> None:
        super().__init__(budget)
        self.budget, self.outage = budget, outage

    async def reserve(self, amount: int) -> Any:
        handle = await super().reserve(amount)
        assert self.budget.holds_in_memory(handle)  # taken in memory, not in Redis
        return handle

    async def totals(self) -> ScopeTotals:
        return self.seen  # memory's (Redis is away: the wrapper answers its last known)

    async def after(self) -> ScopeTotals:
        self.outage.down = False
        await self.budget.primary.replay()
        return await self.budget.primary.totals(KEY)


class Gate:
    """The combined gate: admission with reservation, then settle, one script each."""

    def __init__(self, parts: Parts) -> None:
        self.p = parts

    async def reserve(self, amount: int) -> tuple[Ticket, Reservation]:
        p = self.p
        both = await p.gate.admit(p.limiter, p.book, "a", "m", 10, TEAM, amount)
        assert both is not None and both[1] is not None
        return both[0], both[1]

    async def settle(self, both: tuple[Ticket, Reservation], actual: int) -> None:
        assert await self.p.gate.settle(self.p.book, *both, 10, actual)

    async def release(self, both: tuple[Ticket, Reservation]) -> None:
        assert await self.p.gate.settle(self.p.book, *both, 10, 0)

    async def totals(self) -> ScopeTotals:
        status = next(s for s in self.p.book.scopes_of(TEAM) if s.scope == "team:a")
        truth = await self.p.book.counters.totals(KEY)
        assert (status.settled_pico, status.reserved_pico) == truth  # the book agrees
        return truth

    async def after(self) -> ScopeTotals:
        return await self.totals()


def redis(fx: Fixture, batcher: OutageBatcher | None = None) -> RedisBudgetCounters:
    client, prefix = fx
    return RedisBudgetCounters(
        client, prefix, spend_source=NoSpend(), rebuild_delay_s=0.0, batcher=batcher
    )


async def memory_backend(fx: Fixture) -> Counters:
    return Counters(MemoryBudgetCounters())


async def redis_backend(fx: Fixture) -> Counters:
    return Counters(redis(fx))


async def failover_healthy(fx: Fixture) -> Counters:
    return Counters(FailoverBudgetCounters(redis(fx), mode="open"))


async def failover_outage(fx: Fixture) -> Counters:
    outage = OutageBatcher(fx[0])
    budget = FailoverBudgetCounters(redis(fx, outage), mode="open")
    await budget.primary.ensure_loaded(PERIOD)
    outage.down = True
    return Outage(budget, outage)


async def combined_gate(fx: Fixture) -> Gate:
    return Gate(await build(*fx, concurrency=5))


Backend = Counters | Gate
BACKENDS: dict[str, Callable[[Fixture], Awaitable[Backend]]] = {
    "memory": memory_backend,
    "redis": redis_backend,
    "failover-healthy": failover_healthy,
    "failover-outage": failover_outage,
    "combined-gate": combined_gate,
}


@pytest.mark.parametrize("name", list(BACKENDS))
async def test_settle_and_release_through_the_handle_keep_the_totals_exact(
    redis_prefix: Fixture, name: str
) -> None:
    b = await BACKENDS[name](redis_prefix)
    first = await b.reserve(300)
    second = await b.reserve(200)
    third = await b.reserve(300)  # the same scopes and amount as the first
    assert await b.totals() == ScopeTotals(0, 800)
    await b.settle(third, 120)  # the later one of the two alike, first
    assert await b.totals() == ScopeTotals(120, 500)
    await b.release(second)
    assert await b.totals() == ScopeTotals(120, 300)
    await b.settle(first, 450)  # an estimated cost may exceed its reservation
    assert await b.totals() == ScopeTotals(570, 0)
    assert await b.after() == ScopeTotals(570, 0)


async def test_a_handle_is_closed_only_by_the_backend_holding_it(redis_prefix: Fixture) -> None:
    memory, other = MemoryBudgetCounters(), redis(redis_prefix)
    in_redis = held(await other.reserve(SCOPES, 10))
    with pytest.raises(ValueError, match="another budget backend"):
        await memory.settle(in_redis, 10)
    with pytest.raises(ValueError, match="another budget backend"):
        await other.release(held(await memory.reserve(SCOPES, 10)))
    await other.release(in_redis)
    assert await other.totals(KEY) == ScopeTotals(0, 0)


@pytest.mark.parametrize("redis_first", [True, False], ids=["redis-first", "memory-first"])
async def test_alike_reservations_in_memory_and_in_redis_each_close_where_held(
    redis_prefix: Fixture, redis_first: bool
) -> None:
    """One reservation taken in memory during an outage, one taken in Redis after it,
    both of 100 against the same scopes: each settles or releases on its own backend."""
    outage = OutageBatcher(redis_prefix[0])
    budget = FailoverBudgetCounters(redis(redis_prefix, outage), mode="open")
    primary = budget.primary
    await primary.ensure_loaded(PERIOD)
    outage.down = True
    in_memory = held(await budget.reserve(SCOPES, 100))
    outage.down = False
    in_redis = held(await budget.reserve(SCOPES, 100))
    assert await primary.totals(KEY) == ScopeTotals(0, 100)
    assert budget.holds_in_memory(in_memory) and not budget.holds_in_memory(in_redis)
    if redis_first:
        assert (await budget.settle(in_redis, 30))[KEY] == ScopeTotals(30, 0)
        assert await primary.totals(KEY) == ScopeTotals(30, 0)  # Redis's own one closed
        assert (await budget.release(in_memory))[KEY] == ScopeTotals(0, 0)  # memory's
        assert await primary.totals(KEY) == ScopeTotals(30, 0)
    else:
        assert (await budget.settle(in_memory, 40))[KEY] == ScopeTotals(40, 0)  # memory's
        assert await primary.totals(KEY) == ScopeTotals(40, 100)  # charged; Redis's open
        assert (await budget.release(in_redis))[KEY] == ScopeTotals(40, 0)
        assert await primary.totals(KEY) == ScopeTotals(40, 0)


async def test_the_gate_settles_a_redis_reservation_beside_an_alike_one_in_memory(
    redis_prefix: Fixture,
) -> None:
    """The combined gate closes in its one script exactly the reservations Redis holds:
    one alike held in memory (an outage's) no longer makes it stand aside, and is
    closed by the book's own step."""
    client, prefix = redis_prefix
    outage = OutageBatcher(client)
    p = await build(client, prefix, concurrency=5, batcher=outage, mode="open")
    budget = p.book.counters
    assert isinstance(budget, FailoverBudgetCounters)
    outage.down = True
    in_memory = await p.book.reserve(TEAM, 100)  # failing open: held in memory
    outage.down = False
    await (await p.book.reserve(TEAM, 1)).release()  # Redis answers: the outage is over
    assert not budget.degraded
    ticket, in_redis = await Gate(p).reserve(100)
    assert in_redis.scopes == in_memory.scopes and in_redis.amount_pico == 100
    assert budget.holds_in_memory(in_memory.handle)
    assert not budget.holds_in_memory(in_redis.handle)
    before = outage.calls
    assert await p.gate.settle(p.book, ticket, in_redis, 10, 30)  # in one script call
    assert outage.calls == before + 1
    assert await budget.primary.totals(KEY) == ScopeTotals(30, 0)
    assert not await p.gate.settle(p.book, None, in_memory, 0, 0)  # the book's own step
    await in_memory.release()
    assert await budget.primary.totals(KEY) == ScopeTotals(30, 0)
