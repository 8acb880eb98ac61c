"""Limiter.direct_plan: when a one-step admission (the Redis gate's) may be tried at once,
and Limiter.admitted / Ticket.closing: what it takes and gives back matches the plan."""

from __future__ import annotations

import asyncio

import pytest

from teamgate.config.schema import Limits, OrgConfig, Settings, TeamConfig
from teamgate.limits import Limiter, MemoryCounters, SlotHandle

MODEL = "m"


def limiter(on_limit: str, *, fair_share: bool = False) -> Limiter:
    team = TeamConfig(
        "t",
        (MODEL,),
        4096,
        limits=Limits(rpm=1, tpm=10_000, concurrency=2, max_queue_wait_s=5.0),
        on_limit=on_limit,  # type: ignore[arg-type]
    )
    org = OrgConfig(limits=Limits(rpm=100), fair_share=fair_share)
    return Limiter(Settings(teams={"t": team}, org=org), MemoryCounters())


@pytest.mark.parametrize("on_limit", ["reject", "queue"])
def test_a_plan_for_a_known_team_and_none_otherwise(on_limit: str) -> None:
    lim = limiter(on_limit)
    plan = lim.direct_plan("t", MODEL, 100)
    assert plan is not None and [s.key for s in plan.slots] == ["team:t:concurrency"]
    assert lim.direct_plan("nobody", MODEL, 100) is None
    assert lim.direct_plan("t", MODEL, 20_000) is None  # more than the TPM: the limiter's 413
    lim.observe_upstream(
        MODEL, {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "2s"}
    )
    assert lim.direct_plan("t", MODEL, 100) is None  # paused by Groq's headers


async def test_a_queueing_team_with_someone_queued_keeps_its_fifo() -> None:
    lim = limiter("queue")
    first = await lim.admit("t", MODEL, 100)  # spends the one request of the minute
    waiting = asyncio.create_task(lim.admit("t", MODEL, 100))
    await asyncio.sleep(0)
    assert lim.queued("t") == 1
    assert lim.direct_plan("t", MODEL, 100) is None  # behind the queued one
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert lim.direct_plan("t", MODEL, 100) is not None
    await first.release()


def test_admitted_ticket_hands_over_its_refund_and_slots_once() -> None:
    lim = limiter("reject")
    plan = lim.direct_plan("t", MODEL, 100)
    assert plan is not None
    slots = [SlotHandle(s.key, lim.counters) for s in plan.slots]
    ticket = lim.admitted(plan, [60.0 + i for i in range(len(plan.checks))], slots)
    closing = ticket.closing(30)
    assert closing is not None
    assert closing.refund == 70 and [c.key for c in closing.checks] == ["team:t:tpm"]
    assert closing.slots == tuple(slots) and slots[0].key == "team:t:concurrency"
    ticket.closed(closing, [1.0])
    assert ticket.closing(0) is None  # released: nothing twice
