"""Helpers for the hardening tests: SSE events, the books settled, a gateway for faults (the
chat calls, Groq-shape checks and waits are in tests/support/chat_checks.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from teamgate.simulator import Simulator
from tests.conftest import UPSTREAM_SECRETS, RunningGateway, start_gateway
from tests.support.chat_checks import wait_until

ANALYTICS_UPSTREAM = UPSTREAM_SECRETS["GROQ_KEY_ANALYTICS_PROD"]

# A short upstream timeout (the simulator's latency fault is longer), a short 429 wait,
# and a concurrency limit, so that leaked slots would show.
FAULT_PATCH: dict[str, Any] = {
    "upstream": {"timeout_s": 0.5, "retry_429_deadline_s": 2.0},
    "teams": {"analytics": {"limits": {"concurrency": 2}}},
}


def sse_events(text: str) -> list[Any]:
    """The JSON payloads of an SSE body (``[DONE]`` as the string)."""
    out: list[Any] = []
    for block in text.split("\n\n"):
        for line in block.split("\n"):
            if line.startswith("data: "):
                payload = line[6:]
                out.append(payload if payload == "[DONE]" else orjson.loads(payload))
    return out


def reserved_total(gw: RunningGateway) -> int:
    return sum(row.reserved_pico for row in gw.app.gateway.budget.snapshot())


def slots_taken(gw: RunningGateway, team: str = "analytics") -> int:
    counters = gw.app.gateway.limiter._counters
    return int(counters.slots_taken(f"team:{team}:concurrency"))  # type: ignore[attr-defined]


def assert_released(gw: RunningGateway) -> None:
    """No budget reservation open and no concurrency slot held (they settle just after
    the response is sent, so wait briefly)."""
    wait_until(lambda: reserved_total(gw) == 0, 3.0, "budget reservations released")
    wait_until(lambda: slots_taken(gw) == 0, 3.0, "concurrency slots freed")
    wait_until(lambda: gw.simulator.state.in_flight() == 0, 5.0, "simulator idle")


@pytest.fixture
def fgw(simulator: Simulator, tmp_path: Path) -> Iterator[RunningGateway]:
    """A gateway for fault tests (see ``FAULT_PATCH``)."""
    yield from start_gateway(simulator, tmp_path, FAULT_PATCH)
