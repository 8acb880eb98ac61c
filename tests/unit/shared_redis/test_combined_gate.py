"""CombinedGate: admission with reservation in one script, all or nothing; settle in one.

Whenever the combined script does not admit (a full slot, a rate limit, a budget
refusal), Redis is left as it was: no slot holder, no TAT, no reservation; the
separate steps then decide as always. A cancelled admission gives back what it
took; a dead Redis makes the gate stand aside for the failover wrappers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import pytest
import redis.asyncio as redis_asyncio

from teamgate.budget import BudgetBook, Payer
from teamgate.config.schema import Limits, Settings, TeamConfig
from teamgate.http.errors import BudgetExceeded, RateLimited, StateUnavailable
from teamgate.ledger.summary import UsageGroup
from teamgate.limits import Limiter
from teamgate.shared_redis.batching import ScriptBatcher
from teamgate.shared_redis.budget import RedisBudgetCounters
from teamgate.shared_redis.budget_failover import FailoverBudgetCounters
from teamgate.shared_redis.client import redis_client
from teamgate.shared_redis.gate import CombinedGate
from teamgate.shared_redis.limits import RedisCounters
from teamgate.shared_redis.limits_failover import FailoverCounters

Fixture = tuple[redis_asyncio.Redis, str]
PICO = 10**12
NOW = 1793491200.0  # 2026-11-01, the book's clock
TEAM = Payer("a", "prod", "a-prod-key", None)


class NoSpend:
    async def usage_summary(
        self, start: float, end: float, group_by: Sequence[str] = ()
    ) -> list[UsageGroup]:
        return []


@dataclass
class Parts:
    client: redis_asyncio.Redis
    prefix: str
    limiter: Limiter
    book: BudgetBook
    gate: CombinedGate
    batcher: ScriptBatcher

    async def redis_state(self) -> tuple[int, bool, int]:
        """(slot holders of team a, whether its rpm TAT exists, team a's reserved picodollars)."""
        slots = await self.client.zcard(self.prefix + "rl:slot:team:a:concurrency")
        tat = bool(await self.client.exists(self.prefix + "rl:team:a:rpm"))
        reserved = await self.client.hget(self.prefix + "budget:team:a:2026-11", "reserved")
        return slots, tat, int(reserved or 0)


async def build(
    client: redis_asyncio.Redis,
    prefix: str,
    *,
    rpm: int = 10,
    concurrency: int = 1,
    batcher: ScriptBatcher | None = None,
    mode: str = "closed",
) -> Parts:
    team = TeamConfig(
        "a",
        ("m",),
        4096,
        limits=Limits(rpm=rpm, tpm=100_000, concurrency=concurrency),
        monthly_budget_usd=Decimal("1"),
        on_limit="reject",
    )
    settings = Settings(teams={"a": team})
    batcher = batcher or ScriptBatcher(client)
    counters = FailoverCounters(RedisCounters(client, prefix, batcher=batcher), mode=mode)
    budget = FailoverBudgetCounters(
        RedisBudgetCounters(
            client, prefix, spend_source=NoSpend(), rebuild_delay_s=0.0, batcher=batcher
        ),
        mode=mode,
    )
    book = BudgetBook(settings, budget, clock=lambda: NOW)
    await book.load(NoSpend())
    limiter = Limiter(settings, counters, clock=lambda: NOW)
    return Parts(client, prefix, limiter, book, CombinedGate(counters, budget, batcher), batcher)


async def test_admits_and_settles_in_one_call_each(redis_prefix: Fixture) -> None:
    p = await build(*redis_prefix)
    before = p.batcher.calls
    both = await p.gate.admit(p.limiter, p.book, "a", "m", 1000, TEAM, PICO // 10)
    assert both is not None and p.batcher.calls == before + 1
    ticket, reservation = both
    assert await p.redis_state() == (1, True, PICO // 10)
    tpm = p.prefix + "rl:team:a:tpm"
    charged = float(await p.client.get(tpm))
    assert await p.gate.settle(p.book, ticket, reservation, 400, PICO // 100)
    assert p.batcher.calls == before + 2
    assert await p.redis_state() == (0, True, 0)
    assert float(await p.client.get(tpm)) < charged  # 600 unused tokens given back
    settled = await p.client.hget(p.prefix + "budget:team:a:2026-11", "settled")
    assert int(settled) == PICO // 100
    assert not reservation.open
    await ticket.release()  # already released by the settle: nothing more happens
    assert p.book.remaining_pico(TEAM) == PICO - PICO // 100


@pytest.mark.parametrize("refusal", ["rate", "slot"])
async def test_a_limit_refusal_takes_nothing_and_the_limiter_decides(
    redis_prefix: Fixture, refusal: str
) -> None:
    p = await build(*redis_prefix, rpm=1 if refusal == "rate" else 10)
    # a first request holds the one slot, or spent the one request of the minute
    held = await p.gate.admit(p.limiter, p.book, "a", "m", 10, TEAM, 5)
    assert held is not None and held[1] is not None
    if refusal == "rate":
        assert await p.gate.settle(p.book, held[0], held[1], 10, 5)
    state = await p.redis_state()
    assert await p.gate.admit(p.limiter, p.book, "a", "m", 10, TEAM, 7) is None
    assert await p.redis_state() == state  # not even the budget was reserved
    with pytest.raises(RateLimited):
        await p.limiter.admit("a", "m", 10)


async def test_a_budget_that_does_not_fit_leaves_the_admission_to_the_book(
    redis_prefix: Fixture,
) -> None:
    """As the limiter's admission followed by the book's reserve always did: the request
    holds its slot and counts against rpm; the book refuses (or waits) in its own step."""
    p = await build(*redis_prefix)
    both = await p.gate.admit(p.limiter, p.book, "a", "m", 10, TEAM, 2 * PICO)
    assert both is not None
    ticket, reservation = both
    assert reservation is None
    assert await p.redis_state() == (1, True, 0)
    with pytest.raises(BudgetExceeded):
        await p.book.reserve(TEAM, 2 * PICO)
    assert await p.gate.settle(p.book, ticket, None, 0, 0)
    assert await p.redis_state() == (0, True, 0)


async def test_a_cancelled_admission_gives_everything_back(redis_prefix: Fixture) -> None:
    p = await build(*redis_prefix)
    task = asyncio.create_task(p.gate.admit(p.limiter, p.book, "a", "m", 10, TEAM, 99))
    await asyncio.sleep(0)  # the call is queued in the batcher
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(200):  # the script runs anyway; its take is given back once it answered
        if await p.redis_state() == (0, True, 0) and p.book.remaining_pico(TEAM) == PICO:
            break
        await asyncio.sleep(0.01)
    assert await p.redis_state() == (0, True, 0)
    assert p.book.remaining_pico(TEAM) == PICO


async def test_with_redis_unreachable_the_gate_stands_aside() -> None:
    client = redis_client("redis://127.0.0.1:1/0", timeout_s=0.2)  # nothing listens there
    try:
        team = TeamConfig("a", ("m",), 4096, limits=Limits(rpm=10), on_limit="reject")
        settings = Settings(teams={"a": team})
        counters = FailoverCounters(RedisCounters(client), mode="closed")
        budget = FailoverBudgetCounters(RedisBudgetCounters(client), mode="closed")
        gate = CombinedGate(counters, budget, ScriptBatcher(client))
        limiter = Limiter(settings, counters, clock=lambda: NOW)
        book = BudgetBook(settings, budget, clock=lambda: NOW)
        assert await gate.admit(limiter, book, "a", "m", 10, Payer("a"), 5) is None
        with pytest.raises(StateUnavailable):  # the separate steps fail closed
            await limiter.admit("a", "m", 10)
        assert counters.degraded
        # degraded: the gate does not even try (no second timeout per request)
        assert await gate.admit(limiter, book, "a", "m", 10, Payer("a"), 5) is None
    finally:
        await client.aclose()
        await client.connection_pool.aclose()  # type: ignore[no-untyped-call]
