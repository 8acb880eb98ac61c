"""Helpers for the hardening tests: chat calls, Groq-shape checks, waiting for the books."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from teamgate.ledger.records import UsageRecord
from teamgate.simulator import Simulator
from tests.conftest import UPSTREAM_SECRETS, RunningGateway, start_gateway

ANALYTICS_UPSTREAM = UPSTREAM_SECRETS["GROQ_KEY_ANALYTICS_PROD"]
MODEL = "llama-3.1-8b-instant"

# A short upstream timeout (the simulator's latency fault is longer), a short 429 wait,
# and a concurrency limit, so that leaked slots would show.
FAULT_PATCH: dict[str, Any] = {
    "upstream": {"timeout_s": 0.5, "retry_429_deadline_s": 2.0},
    "teams": {"analytics": {"limits": {"concurrency": 2}}},
}


def wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0, what: str = "") -> None:
    """Poll ``predicate`` until true; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.01)


def chat_body(*, stream: bool = False, max_tokens: int = 64, content: str = "hi") -> bytes:
    return orjson.dumps(
        {
            "model": MODEL,
            "messages": [{"role": "user", "content": content}],
            "max_tokens": max_tokens,
            "stream": stream,
        }
    )


def chat(
    gw: RunningGateway,
    *,
    stream: bool = False,
    fault: str | None = None,
    team: str = "analytics",
    timeout: float = 10.0,
    headers: dict[str, str] | None = None,
    max_tokens: int = 64,
) -> httpx.Response:
    """POST a chat completion as ``team``; ``fault`` goes to the simulator as ``x-sim-fault``."""
    h = {"authorization": f"Bearer {gw.key(team)}", "content-type": "application/json"}
    if fault:
        h["x-sim-fault"] = fault
    h.update(headers or {})
    return httpx.post(
        gw.url + "/openai/v1/chat/completions",
        content=chat_body(stream=stream, max_tokens=max_tokens),
        headers=h,
        timeout=timeout,
    )


def assert_groq_error(resp: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """A Groq-shaped JSON error with ``status`` (and ``code``); returns the error object."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json"), resp.headers
    body = resp.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert isinstance(error.get("message"), str) and isinstance(error.get("type"), str), error
    if code is not None:
        assert error.get("code") == code, error
    assert "Traceback" not in resp.text
    return error


def sse_events(text: str) -> list[Any]:
    """The JSON payloads of an SSE body (``[DONE]`` as the string)."""
    out: list[Any] = []
    for block in text.split("\n\n"):
        for line in block.split("\n"):
            if line.startswith("data: "):
                payload = line[6:]
                out.append(payload if payload == "[DONE]" else orjson.loads(payload))
    return out


def records_when(gw: RunningGateway, count: int, timeout_s: float = 5.0) -> list[UsageRecord]:
    """The ledger once it holds ``count`` records (fails if it never does, or holds more)."""
    found: list[UsageRecord] = []

    def enough() -> bool:
        nonlocal found
        found = gw.records()
        return len(found) >= count

    wait_until(enough, timeout_s, f"{count} ledger records")
    time.sleep(0.05)  # a record beyond the expected ones would have been flushed by now
    found = gw.records()
    assert len(found) == count, found
    return found


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
