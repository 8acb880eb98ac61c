"""The limiter end to end on virtual time: reject, queue, concurrency, tokens, org, fairness."""

from __future__ import annotations

import asyncio

import pytest

from teamgate.config.schema import Limits, OrgConfig
from teamgate.http.errors import PayloadTooLarge, RateLimited
from teamgate.limits import Limiter, MemoryCounters, Ticket
from tests.unit.limits.limiter_harness import M, backend, limiter_for, run, settings, team
from tests.unit.limits.limits_vtime import VirtualTimeLoop

__all__ = ["backend"]  # the autouse fixture: every test runs on both backends


# ---- rpm 60, reject -------------------------------------------------------------------


def test_rpm_reject_exactly_60_of_100_and_retry_after_is_true(vloop: VirtualTimeLoop) -> None:
    limiter = limiter_for(vloop, settings(team("chatbot", "reject", rpm=60)))

    async def main() -> None:
        results = await asyncio.gather(
            *(limiter.admit("chatbot", M, 10) for _ in range(100)), return_exceptions=True
        )
        ok = [r for r in results if isinstance(r, Ticket)]
        refused = [r for r in results if isinstance(r, RateLimited)]
        assert (len(ok), len(refused)) == (60, 40)
        err = refused[0]
        assert err.status == 429 and err.code == "rate_limit_exceeded" and err.type == "requests"
        assert err.message == (
            "Rate limit reached for team `chatbot` on requests per minute (RPM): "
            "Limit 60, Used 60, Requested 1. Please try again in 1s."
        )
        assert err.headers["retry-after"] == "1"
        assert err.headers["retry-after-ms"] == "1000"
        assert err.headers["x-ratelimit-remaining-requests"] == "0"
        # a client that waits the announced time gets in; just before, it would not
        await asyncio.sleep(int(err.headers["retry-after-ms"]) / 1000 - 0.01)
        with pytest.raises(RateLimited):
            await limiter.admit("chatbot", M, 10)
        await asyncio.sleep(0.01)
        await limiter.admit("chatbot", M, 10)
        with pytest.raises(RateLimited):
            await limiter.admit("chatbot", M, 10)

    run(vloop, main())


# ---- rpm 60, queue --------------------------------------------------------------------


def test_rpm_queue_admits_all_100_in_fifo_order_at_the_allowed_times(
    vloop: VirtualTimeLoop,
) -> None:
    limiter = limiter_for(vloop, settings(team("chatbot", rpm=60, max_queue_wait_s=60)))
    start = vloop.time()
    admitted: list[tuple[int, float]] = []

    async def one(i: int) -> None:
        await limiter.admit("chatbot", M, 10)
        admitted.append((i, vloop.time() - start))

    async def main() -> None:
        tasks = [asyncio.create_task(one(i)) for i in range(100)]
        await asyncio.gather(*tasks)

    run(vloop, main())
    assert [i for i, _ in admitted] == list(range(100))
    times = [t for _, t in admitted]
    assert all(t == 0 for t in times[:60])
    # the 61st starts no earlier than the window allows: one more per second
    for n, t in enumerate(times[60:], start=1):
        assert t == pytest.approx(n, abs=1e-3)
        assert t >= n - 1e-6
    assert limiter.queued("chatbot") == 0


def test_rpm_queue_times_out_at_max_queue_wait(vloop: VirtualTimeLoop) -> None:
    limiter = limiter_for(vloop, settings(team("chatbot", rpm=60, max_queue_wait_s=30.5)))
    start = vloop.time()
    outcomes: dict[int, tuple[str, float]] = {}

    async def one(i: int) -> None:
        try:
            await limiter.admit("chatbot", M, 10)
            outcomes[i] = ("ok", vloop.time() - start)
        except RateLimited as err:
            outcomes[i] = ("429", vloop.time() - start)
            assert "requests per minute (RPM)" in err.message
            assert float(err.headers["retry-after-ms"]) > 0

    async def main() -> None:
        await asyncio.gather(*(one(i) for i in range(100)))

    run(vloop, main())
    ok = sorted(i for i, (what, _) in outcomes.items() if what == "ok")
    late = sorted(i for i, (what, _) in outcomes.items() if what == "429")
    assert ok == list(range(90))  # 60 at once + 30 in 30.5 s
    assert late == list(range(90, 100))
    assert max(t for _, t in outcomes.values()) <= 30.5 + 1e-6  # nobody waits longer
    assert limiter.queued("chatbot") == 0


# ---- concurrency ----------------------------------------------------------------------


def test_concurrency_5_under_50_clients(vloop: VirtualTimeLoop) -> None:
    limiter = limiter_for(vloop, settings(team("chatbot", concurrency=5)))
    outstanding = 0
    peak = 0
    done = 0

    async def client(i: int) -> None:
        nonlocal outstanding, peak, done
        async with await limiter.admit("chatbot", M, 10):
            outstanding += 1
            peak = max(peak, outstanding)
            await asyncio.sleep(0.1 + (i % 7) * 0.05)  # "working"
            outstanding -= 1
        done += 1

    async def main() -> None:
        await asyncio.gather(*(client(i) for i in range(50)))

    run(vloop, main())
    assert peak == 5
    assert done == 50


def test_concurrency_reject_and_release_is_idempotent(vloop: VirtualTimeLoop) -> None:
    counters = MemoryCounters()
    limiter = Limiter(
        settings(team("chatbot", "reject", concurrency=2)), counters, clock=vloop.time
    )

    async def main() -> None:
        a = await limiter.admit("chatbot", M, 1)
        await limiter.admit("chatbot", M, 1)
        with pytest.raises(RateLimited) as info:
            await limiter.admit("chatbot", M, 1)
        assert "concurrent requests: Limit 2" in info.value.message
        await a.release()
        await a.release()
        assert counters.slots_taken("team:chatbot:concurrency") == 1
        await limiter.admit("chatbot", M, 1)

    run(vloop, main())


def test_rate_refusal_does_not_hold_a_slot(vloop: VirtualTimeLoop) -> None:
    counters = MemoryCounters()
    limiter = Limiter(
        settings(team("chatbot", "reject", rpm=1, concurrency=3)), counters, clock=vloop.time
    )

    async def main() -> None:
        await limiter.admit("chatbot", M, 1)
        with pytest.raises(RateLimited):
            await limiter.admit("chatbot", M, 1)
        assert counters.slots_taken("team:chatbot:concurrency") == 1

    run(vloop, main())


# ---- tokens ---------------------------------------------------------------------------


def test_tpm_admits_five_then_more_after_correction_reject(vloop: VirtualTimeLoop) -> None:
    limiter = limiter_for(vloop, settings(team("chatbot", "reject", tpm=10000)))

    async def main() -> None:
        tickets = [await limiter.admit("chatbot", M, 2000) for _ in range(5)]
        with pytest.raises(RateLimited) as info:
            await limiter.admit("chatbot", M, 2000)
        assert info.value.type == "tokens"
        assert "tokens per minute (TPM): Limit 10000, Used 10000, Requested 2000" in (
            info.value.message
        )
        assert info.value.retry_after_s == pytest.approx(12.0)
        for t in tickets:
            await t.correct(100)
        assert limiter.headers("chatbot")["x-ratelimit-remaining-tokens"] == "9500"
        more = [await limiter.admit("chatbot", M, 2000) for _ in range(4)]
        with pytest.raises(RateLimited):
            await limiter.admit("chatbot", M, 2000)
        # correcting never charges beyond the reservation, nor twice
        await more[0].correct(5000)
        await tickets[0].correct(100)
        assert limiter.headers("chatbot")["x-ratelimit-remaining-tokens"] == "1500"

    run(vloop, main())


def test_tpm_queue_waiters_get_in_when_corrections_free_tokens(vloop: VirtualTimeLoop) -> None:
    limiter = limiter_for(vloop, settings(team("chatbot", tpm=10000)))
    start = vloop.time()
    admitted_at: list[float] = []

    async def one() -> Ticket:
        ticket = await limiter.admit("chatbot", M, 2000)
        admitted_at.append(vloop.time() - start)
        return ticket

    async def main() -> None:
        first = [await one() for _ in range(5)]
        waiting = [asyncio.create_task(one()) for _ in range(4)]
        await asyncio.sleep(1.0)
        assert len(admitted_at) == 5 and limiter.queued("chatbot") == 4
        for t in first:
            await t.correct(100)  # 9500 tokens back: four more fit now
        await asyncio.gather(*waiting)

    run(vloop, main())
    assert admitted_at[5:] == [pytest.approx(1.0)] * 4


def test_request_larger_than_tpm_is_413_at_once(vloop: VirtualTimeLoop) -> None:
    limiter = limiter_for(vloop, settings(team("chatbot", tpm=6000)))

    async def main() -> None:
        with pytest.raises(PayloadTooLarge) as info:
            await limiter.admit("chatbot", M, 10338)
        assert info.value.code == "rate_limit_exceeded"
        assert "Limit 6000, Requested 10338" in info.value.message

    run(vloop, main())


def test_team_model_limits(vloop: VirtualTimeLoop) -> None:
    limiter = limiter_for(
        vloop,
        settings(team("chatbot", "reject", rpm=100, model_limits={M: Limits(rpm=2)})),
    )

    async def main() -> None:
        await limiter.admit("chatbot", M, 1)
        await limiter.admit("chatbot", M, 1)
        with pytest.raises(RateLimited) as info:
            await limiter.admit("chatbot", M, 1)
        assert info.value.message.startswith(
            f"Rate limit reached for model `{M}` in team `chatbot` on requests per minute"
        )
        await limiter.admit("chatbot", "other-model", 1)

    run(vloop, main())


# ---- org ------------------------------------------------------------------------------


def test_org_limits_hold_across_three_teams(vloop: VirtualTimeLoop) -> None:
    s = settings(
        team("a", "reject", rpm=20),
        team("b", "reject", rpm=20),
        team("c", "reject", rpm=20),
        org=OrgConfig(limits=Limits(rpm=30), model_limits={M: Limits(tpm=50_000)}),
    )
    limiter = limiter_for(vloop, s)

    async def main() -> None:
        results = await asyncio.gather(
            *(limiter.admit(name, "other", 1) for _ in range(20) for name in "abc"),
            return_exceptions=True,
        )
        ok = [r for r in results if isinstance(r, Ticket)]
        assert len(ok) == 30
        assert all(sum(t.team == name for t in ok) <= 20 for name in "abc")
        err = next(r for r in results if isinstance(r, RateLimited))
        assert "the organization's shared limit) on requests per minute (RPM): Limit 30" in (
            err.message
        )
        await asyncio.sleep(60)
        # the org's per-model TPM: 50k shared by all teams on that model
        for name in "abc":
            await limiter.admit(name, M, 16_000)
        with pytest.raises(RateLimited) as info:
            await limiter.admit("a", M, 16_000)
        assert info.value.type == "tokens"
        assert f"shared limit for model `{M}`) on tokens per minute (TPM)" in info.value.message

    run(vloop, main())


def test_fair_share_quiet_team_is_not_starved(vloop: VirtualTimeLoop) -> None:
    s = settings(
        team("greedy", max_queue_wait_s=300),
        team("quiet", max_queue_wait_s=300),
        org=OrgConfig(limits=Limits(rpm=20), fair_share=True),
    )
    limiter = limiter_for(vloop, s)
    order: list[str] = []

    async def one(name: str) -> None:
        await limiter.admit(name, M, 1)
        order.append(name)

    async def main() -> None:
        greedy = [asyncio.create_task(one("greedy")) for _ in range(40)]
        await asyncio.sleep(0.5)
        quiet = [asyncio.create_task(one("quiet")) for _ in range(5)]
        await asyncio.gather(*greedy, *quiet)

    run(vloop, main())
    assert order[:20] == ["greedy"] * 20  # the org burst, before quiet arrived
    after = order[20:]
    assert after[:10].count("quiet") == 5  # all of quiet's 5 within the next 10 admissions
    assert order.count("greedy") == 40


@pytest.mark.parametrize("fair_share", [True, False])
def test_fair_share_with_tokens_big_requests_are_not_starved(
    vloop: VirtualTimeLoop, fair_share: bool
) -> None:
    # org TPM 10000: greedy sends 40 x 1000 tokens, quiet 5 x 4000 a little later. Without
    # fair share greedy's small requests take every 1000 tokens as they come back and quiet
    # waits until greedy is done; with it, quiet gets its 4000 in turn.
    s = settings(
        team("greedy", max_queue_wait_s=600),
        team("quiet", max_queue_wait_s=600),
        org=OrgConfig(limits=Limits(tpm=10_000), fair_share=fair_share),
    )
    limiter = limiter_for(vloop, s)
    order: list[str] = []

    async def one(name: str, tokens: int) -> None:
        await limiter.admit(name, M, tokens)
        order.append(name)

    async def main() -> None:
        greedy = [asyncio.create_task(one("greedy", 1000)) for _ in range(40)]
        await asyncio.sleep(0.5)
        quiet = [asyncio.create_task(one("quiet", 4000)) for _ in range(5)]
        await asyncio.gather(*greedy, *quiet)

    run(vloop, main())
    assert order[:10] == ["greedy"] * 10
    assert order.count("quiet") == 5 and order.count("greedy") == 40
    if fair_share:
        assert order[10:20].count("quiet") == 5
    else:
        assert order[10:40] == ["greedy"] * 30  # starved: the failure fair share prevents
