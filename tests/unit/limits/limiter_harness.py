"""What the limiter tests share: config builders, a yielding backend, both backends per test."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

import pytest

from teamgate.config.schema import Limits, OnLimit, OrgConfig, Settings, TeamConfig
from teamgate.limits import (
    Counters,
    Decision,
    Limiter,
    MemoryCounters,
    RateCheck,
    SlotHandle,
)
from tests.unit.limits.limits_vtime import VirtualTimeLoop

M = "llama-3.1-8b-instant"
T = TypeVar("T")


def team(
    name: str,
    on_limit: OnLimit = "queue",
    model_limits: dict[str, Limits] | None = None,
    **limits: Any,
) -> TeamConfig:
    return TeamConfig(
        name,
        (M,),
        8192,
        limits=Limits(**limits),
        model_limits=model_limits or {},
        on_limit=on_limit,
    )


def settings(*teams: TeamConfig, org: OrgConfig | None = None) -> Settings:
    return Settings(teams={t.name: t for t in teams}, org=org or OrgConfig())


def run(loop: VirtualTimeLoop, coro: Coroutine[Any, Any, T]) -> T:
    return loop.run_until_complete(coro)


class YieldingCounters:
    """The memory backend behind a round trip: every call yields to the loop twice, as a
    remote backend (Redis) would, and there is no synchronous peek."""

    suspends = True

    def __init__(self) -> None:
        self._inner = MemoryCounters()

    def try_admit_now(
        self, fast: Any, tokens: int, now: float, slots: list[SlotHandle]
    ) -> list[float] | None:
        return None

    def refund_now(self, key: str, limit: int, period: float, amount: int, now: float) -> None:
        return None

    def peek_now(self, key: str, limit: int, period: float, now: float) -> None:
        return None

    def release_slot_now(self, slot: SlotHandle) -> bool:
        return False

    async def acquire(self, checks: Sequence[RateCheck], now: float) -> Decision:
        await asyncio.sleep(0)
        decision = await self._inner.acquire(checks, now)
        await asyncio.sleep(0)
        return decision

    async def refund(self, key: str, limit: int, period: float, amount: int, now: float) -> float:
        await asyncio.sleep(0)
        return await self._inner.refund(key, limit, period, amount, now)

    async def peek(self, key: str, limit: int, period: float, now: float) -> tuple[int, float]:
        await asyncio.sleep(0)
        return await self._inner.peek(key, limit, period, now)

    async def try_take_slot(self, key: str, limit: int) -> SlotHandle | None:
        await asyncio.sleep(0)
        taken = await self._inner.try_take_slot(key, limit)
        await asyncio.sleep(0)
        return taken

    async def release_slot(self, slot: SlotHandle) -> None:
        await asyncio.sleep(0)
        await self._inner.release_slot(slot)


BACKEND = "memory"


@pytest.fixture(autouse=True, params=["memory", "yielding"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run every limiter test against both backends (see YieldingCounters)."""
    monkeypatch.setattr(sys.modules[__name__], "BACKEND", request.param)
    return str(request.param)


def limiter_for(loop: VirtualTimeLoop, s: Settings) -> Limiter:
    counters: Counters = MemoryCounters() if BACKEND == "memory" else YieldingCounters()
    return Limiter(s, counters, clock=loop.time)
