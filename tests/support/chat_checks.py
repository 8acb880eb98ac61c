"""Chat completions sent to a running gateway, the Groq error shape checked, and waiting:
for a condition, and for the ledger to hold a given number of records."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from teamgate.ledger.records import UsageRecord
from tests.conftest import RunningGateway

MODEL = "llama-3.1-8b-instant"


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
