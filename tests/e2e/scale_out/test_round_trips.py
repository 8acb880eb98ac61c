"""Issue 17: one Redis round trip on each side of a request on the hot path.

A served request on Redis makes exactly two script calls — admission with the
budget reservation before forwarding, settle with the TPM/TPD corrections and the
slot release after — and no other Redis command (the readiness probe's PING
aside). Counted at the instance's ScriptBatcher and its client, for requests of
several shapes; a regression to separate calls fails here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as redis_sync

from teamgate.simulator import Simulator
from tests.conftest import RunningGateway, start_gateway
from tests.support.loadgen import chat_body
from tests.support.shared_services import REDIS_URL, unique_name

MODEL = "llama-3.1-8b-instant"
EVERY_LIMIT = {
    "rpm": 1000,
    "rpd": 100_000,
    "tpm": 1_000_000,
    "tpd": 10_000_000,
    "concurrency": 50,
}


@pytest.fixture
def gateway_on_redis(simulator: Simulator, tmp_path: Path) -> Iterator[RunningGateway]:
    prefix = unique_name("tgtest") + ":"
    patch: dict[str, Any] = {
        # leases renewed every 100 s: no renewal falls inside the test
        "redis": {"url": REDIS_URL, "key_prefix": prefix, "lease_s": 300},
        "org": {"limits": {"rpm": 5000, "tpm": 5_000_000, "concurrency": 100}},
        "teams": {
            "chatbot": {
                "limits": EVERY_LIMIT,
                "models": {MODEL: {"rpm": 500, "tpm": 500_000}},
                "environments": {"prod": {"monthly_budget_usd": 100}},
            },
            # queueing team without budgets (only the org's and its own limits)
            "analytics": {"on_limit": "queue", "monthly_budget_usd": None},
        },
    }
    try:
        yield from start_gateway(simulator, tmp_path, patch)
    finally:
        client = redis_sync.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=prefix + "*", count=1000):
            client.delete(key)
        client.close()


class Commands:
    """Counts the Redis commands an instance sends outside its script batcher."""

    def __init__(self, client: Any) -> None:
        self.sent: list[str] = []
        self._inner = client.execute_command

        async def counted(*args: Any, **options: Any) -> Any:
            name = str(args[0]).upper()
            if name != "PING":  # the readiness probe
                self.sent.append(name)
            return await self._inner(*args, **options)

        client.execute_command = counted


@pytest.mark.parametrize(
    ("team", "stream", "purpose"),
    [
        ("chatbot", False, "every limit, a slot, key/env/team/org budgets"),
        ("chatbot", True, "the same, streamed"),
        ("analytics", False, "a queueing team, org budget only"),
    ],
)
def test_a_served_request_makes_two_script_calls_and_no_other_command(
    gateway_on_redis: RunningGateway, team: str, stream: bool, purpose: str
) -> None:
    gw = gateway_on_redis
    shared = gw.app.gateway.shared
    assert shared is not None and shared.gate is not None
    batcher = shared.batcher
    commands = Commands(shared.client)
    headers = {"authorization": f"Bearer {gw.key(team)}"}
    body = chat_body(MODEL, stream=stream, max_completion_tokens=64)
    url = gw.url + "/openai/v1/chat/completions"
    with httpx.Client(timeout=30) as client:
        client.post(url, json=body, headers=headers).raise_for_status()  # warm-up
        wait_for_records(gw, 1)
        for i in range(3):
            before = batcher.calls
            commands.sent.clear()
            reply = client.post(url, json=body, headers=headers)
            assert reply.status_code == 200, reply.text
            wait_for_records(gw, i + 2)  # written after the settle: the request is over
            assert batcher.calls - before == 2, purpose
            assert commands.sent == [], purpose
    records = gw.records()
    assert [r.status for r in records] == [200] * 4
    assert all(r.usage_source == "reported" and r.cost_pusd > 0 for r in records)


def wait_for_records(gw: RunningGateway, n: int) -> None:
    deadline = time.monotonic() + 10
    while len(gw.records()) < n:
        assert time.monotonic() < deadline, f"fewer than {n} records written"
        time.sleep(0.02)
