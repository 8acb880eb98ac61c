"""A gateway with an admin key (the ``admin_gateway`` fixture, which tests/e2e/admin_api's
conftest provides), and helpers to send traffic and read the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from teamgate.simulator import Simulator
from tests.conftest import RunningGateway, start_gateway

ADMIN_KEY = "adm_test_9f8e7d6c5b4a39281706_Qx7Lm2"


def start_admin_gateway(
    simulator: Simulator, tmp_path: Path, patch: dict[str, Any] | None = None
) -> Iterator[RunningGateway]:
    yield from start_gateway(simulator, tmp_path, patch, env={"TEAMGATE_ADMIN_KEY": ADMIN_KEY})


@pytest.fixture
def admin_gateway(simulator: Simulator, tmp_path: Path) -> Iterator[RunningGateway]:
    yield from start_admin_gateway(simulator, tmp_path)


def admin(gw: RunningGateway) -> httpx.Client:
    return httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"})


def chat(gw: RunningGateway, key: str, model: str = "llama-3.1-8b-instant", **extra: Any) -> int:
    resp = httpx.post(
        gw.url + "/openai/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": model, "messages": [{"role": "user", "content": "Hello there"}], **extra},
        timeout=30,
    )
    return resp.status_code


def traffic(gw: RunningGateway) -> None:
    """A mix: successes for three teams, streams, a disallowed model, an unknown model."""
    for _ in range(3):
        assert chat(gw, gw.key("chatbot", "prod")) == 200
    assert chat(gw, gw.key("chatbot", "staging"), "llama-3.3-70b-versatile") == 200
    assert chat(gw, gw.key("analytics"), stream=True) == 200
    assert chat(gw, gw.key("research"), "meta-llama/llama-4-scout-17b-16e-instruct") == 200
    assert chat(gw, gw.key("analytics"), "llama-3.3-70b-versatile") == 403
    assert chat(gw, gw.key("research"), "no-such-model") in (403, 404)


def flushed_records(gw: RunningGateway) -> list[Any]:
    """The ledger after the gateway has written everything (admin reads flush the writer)."""
    with admin(gw) as client:
        assert client.get("/admin/usage").status_code == 200
    return gw.records()
