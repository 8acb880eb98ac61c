"""The limiter on virtual time: leaving the queue, headers, upstream feedback, reconfigure."""

from __future__ import annotations

import asyncio

import pytest

from teamgate.config.schema import Limits, OrgConfig
from teamgate.http.errors import RateLimited
from teamgate.limits import ClientGone, Limiter, MemoryCounters, Ticket
from tests.unit.limits.limiter_harness import (
    M,
    YieldingCounters,
    backend,
    limiter_for,
    run,
    settings,
    team,
)
from tests.unit.limits.limits_vtime import VirtualTimeLoop

__all__ = ["backend"]  # the autouse fixture: every test runs on both backends


# ---- leaving the queue ----------------------------------------------------------------


def test_client_gone_leaves_the_queue(vloop: VirtualTimeLoop) -> None:
    limiter = limiter_for(vloop, settings(team("chatbot", rpm=1, max_queue_wait_s=120)))
    gone = False

    async def main() -> None:
        await limiter.admit("chatbot", M, 1)
        head = asyncio.create_task(limiter.admit("chatbot", M, 1, client_gone=lambda: gone))
        behind = asyncio.create_task(limiter.admit("chatbot", M, 1))
        await asyncio.sleep(5)
        assert limiter.queued("chatbot") == 2
        start = vloop.time()
        nonlocal gone
        gone = True
        with pytest.raises(ClientGone):
            await head
        assert vloop.time() - start <= 1.0 + 1e-6  # noticed at the next wake-up
        assert limiter.queued("chatbot") == 1
        await behind  # the one behind takes the freed turn at t = 60
        assert vloop.time() - start == pytest.approx(55.0)

    run(vloop, main())


def test_cancelled_waiter_leaves_no_ghost(vloop: VirtualTimeLoop) -> None:
    limiter = limiter_for(vloop, settings(team("chatbot", rpm=1, max_queue_wait_s=120)))

    async def main() -> None:
        await limiter.admit("chatbot", M, 1)
        waiters = [asyncio.create_task(limiter.admit("chatbot", M, 1)) for _ in range(3)]
        await asyncio.sleep(1)
        assert limiter.queued("chatbot") == 3
        waiters[0].cancel()  # the head
        waiters[1].cancel()  # one in the middle
        await asyncio.gather(*waiters[:2], return_exceptions=True)
        assert limiter.queued("chatbot") == 1
        await waiters[2]
        assert limiter.queued("chatbot") == 0

    run(vloop, main())


def test_cancelled_waiter_in_fair_ring_passes_the_turn(vloop: VirtualTimeLoop) -> None:
    s = settings(
        team("a", max_queue_wait_s=300),
        team("b", max_queue_wait_s=300),
        org=OrgConfig(limits=Limits(rpm=1), fair_share=True),
    )
    limiter = limiter_for(vloop, s)

    async def main() -> None:
        await limiter.admit("a", M, 1)
        a = asyncio.create_task(limiter.admit("a", M, 1))
        await asyncio.sleep(1)
        b = asyncio.create_task(limiter.admit("b", M, 1))
        await asyncio.sleep(1)
        a.cancel()
        await asyncio.gather(a, return_exceptions=True)
        start = vloop.time()
        ticket = await b
        assert ticket.team == "b"
        assert vloop.time() - start == pytest.approx(58.0)

    run(vloop, main())


# ---- headers, upstream feedback, reconfigure ------------------------------------------


def test_headers_groq_names_and_formats(vloop: VirtualTimeLoop) -> None:
    limiter = limiter_for(
        vloop, settings(team("chatbot", rpm=60, rpd=1000, tpm=10000), team("free"))
    )

    async def main() -> None:
        ticket = await limiter.admit("chatbot", M, 2000)
        assert ticket.headers() == {
            "x-ratelimit-limit-requests": "1000",
            "x-ratelimit-remaining-requests": "999",
            "x-ratelimit-reset-requests": "1m26.4s",
            "x-ratelimit-limit-tokens": "10000",
            "x-ratelimit-remaining-tokens": "8000",
            "x-ratelimit-reset-tokens": "12s",
        }
        await asyncio.sleep(6.005)
        h = limiter.headers("chatbot")
        assert h["x-ratelimit-remaining-tokens"] == "9000"
        assert h["x-ratelimit-reset-tokens"] == "6s"
        assert h["x-ratelimit-reset-requests"] == "1m20.4s"
        assert limiter.headers("free") == {}
        assert limiter.headers("unknown") == {}

    run(vloop, main())


def test_headers_fall_back_to_rpm_and_tpd(vloop: VirtualTimeLoop) -> None:
    limiter = limiter_for(vloop, settings(team("chatbot", rpm=60, tpd=100_000)))

    async def main() -> None:
        await limiter.admit("chatbot", M, 500)
        h = limiter.headers("chatbot")
        assert h["x-ratelimit-limit-requests"] == "60"
        assert h["x-ratelimit-remaining-requests"] == "59"
        assert h["x-ratelimit-limit-tokens"] == "100000"
        assert h["x-ratelimit-remaining-tokens"] == "99500"

    run(vloop, main())


def test_upstream_headers_hold_the_model(vloop: VirtualTimeLoop) -> None:
    limiter = limiter_for(vloop, settings(team("r", "reject"), team("q")))
    exhausted = {
        "x-ratelimit-limit-tokens": "6000",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "30s",
    }

    async def main() -> None:
        start = vloop.time()
        limiter.observe_upstream(M, exhausted)  # hold 30 * 120/6000 = 0.6 s
        with pytest.raises(RateLimited) as info:
            await limiter.admit("r", M, 10)
        assert info.value.retry_after_s == pytest.approx(0.6)
        assert "Groq reports" in info.value.message
        await limiter.admit("r", "other-model", 10)
        await limiter.admit("q", M, 10)  # queued until the hold ends
        assert vloop.time() - start == pytest.approx(0.6)
        limiter.observe_upstream(M, {"x-ratelimit-remaining-tokens": "5000"})
        await limiter.admit("r", M, 10)

    run(vloop, main())


def test_reconfigure_keeps_counter_state(vloop: VirtualTimeLoop) -> None:
    limiter = limiter_for(vloop, settings(team("chatbot", "reject", rpm=2)))

    async def main() -> None:
        await limiter.admit("chatbot", M, 1)
        await limiter.admit("chatbot", M, 1)
        limiter.reconfigure(settings(team("chatbot", "reject", rpm=4)))
        with pytest.raises(RateLimited):  # still full: the state survived
            await limiter.admit("chatbot", M, 1)
        await asyncio.sleep(15)  # a quarter of the period: one of four is back
        await limiter.admit("chatbot", M, 1)
        limiter.reconfigure(settings(team("chatbot", "reject")))
        for _ in range(10):
            await limiter.admit("chatbot", M, 1)

    run(vloop, main())


def test_reconfigure_wakes_queued_heads(vloop: VirtualTimeLoop) -> None:
    limiter = limiter_for(vloop, settings(team("chatbot", concurrency=1)))

    async def main() -> None:
        held = await limiter.admit("chatbot", M, 1)
        waiting = asyncio.create_task(limiter.admit("chatbot", M, 1))
        await asyncio.sleep(2)
        assert not waiting.done()
        limiter.reconfigure(settings(team("chatbot", concurrency=2)))
        await waiting
        await held.release()

    run(vloop, main())


def test_team_without_limits_is_admitted_without_counters(vloop: VirtualTimeLoop) -> None:
    counters = MemoryCounters()
    limiter = Limiter(settings(team("free")), counters, clock=vloop.time)

    async def main() -> None:
        tickets = [await limiter.admit("free", M, 100_000) for _ in range(1000)]
        await tickets[0].correct(1)
        await tickets[0].release()
        assert tickets[0].headers() == {}

    run(vloop, main())


def test_cancelled_mid_attempt_leaks_no_slot(vloop: VirtualTimeLoop) -> None:
    counters = YieldingCounters()
    limiter = Limiter(
        settings(team("chatbot", rpm=100, concurrency=1, model_limits={M: Limits(concurrency=1)})),
        counters,
        clock=vloop.time,
    )
    inner = counters._inner

    async def main() -> None:
        for steps in range(12):  # cancel at every point of the attempt in turn
            task = asyncio.create_task(limiter.admit("chatbot", M, 1))
            for _ in range(steps):
                await asyncio.sleep(0)
            task.cancel()
            results = await asyncio.gather(task, return_exceptions=True)
            if isinstance(results[0], Ticket):
                await results[0].release()
            await asyncio.sleep(0.1)
            assert inner.slots_taken("team:chatbot:concurrency") == 0
            assert inner.slots_taken(f"team:chatbot:model:{M}:concurrency") == 0
            assert limiter.queued("chatbot") == 0

    run(vloop, main())
