"""``Limiter.correct_audio``: the ASH/ASD charge follows the length Groq bills."""

from __future__ import annotations

import asyncio

import pytest

from teamgate.config.schema import Limits, Settings, TeamConfig
from teamgate.http.errors import RateLimited
from teamgate.limits import Limiter, MemoryCounters

W = "whisper-large-v3"


def limiter(**limits: int) -> Limiter:
    team = TeamConfig("a", (W,), 100, limits=Limits(**limits), on_limit="reject")
    return Limiter(Settings(teams={"a": team}), MemoryCounters(), clock=lambda: 1000.0)


async def admits(lim: Limiter, seconds: int) -> bool:
    try:
        ticket = await lim.admit("a", W, 0, audio_seconds=seconds)
    except RateLimited:
        return False
    await ticket.release()
    return True


def test_fewer_seconds_are_given_back() -> None:
    async def scenario() -> list[bool]:
        lim = limiter(ash=60, asd=1000)
        assert await admits(lim, 50)
        before = await admits(lim, 20)  # 50 + 20 > 60
        await lim.correct_audio("a", W, 50, 10)  # Groq billed 10 s
        return [before, await admits(lim, 50), await admits(lim, 1)]

    assert asyncio.run(scenario()) == [False, True, False]


def test_more_seconds_are_charged_when_they_fit() -> None:
    async def scenario() -> list[bool]:
        lim = limiter(ash=60)
        assert await admits(lim, 10)
        await lim.correct_audio("a", W, 10, 40)  # Groq billed 40 s: 30 more
        return [await admits(lim, 21), await admits(lim, 20)]

    assert asyncio.run(scenario()) == [False, True]


@pytest.mark.parametrize(("reserved", "actual"), [(10, 10), (0, 0)])
def test_no_difference_or_no_audio_limit_changes_nothing(reserved: int, actual: int) -> None:
    async def scenario() -> bool:
        lim = limiter(rpm=5)  # no ASH/ASD: nothing to correct, RPM untouched
        for _ in range(5):
            assert await admits(lim, 10)
        await lim.correct_audio("a", W, reserved, actual)
        await lim.correct_audio("a", W, 10, 0)
        return await admits(lim, 10)

    assert asyncio.run(scenario()) is False
