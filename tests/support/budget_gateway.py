"""Budgets through a running gateway: analytics' worst case, dollars for the config, and
waiting for the ledger and for a new key."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from teamgate.pricing.prices import PriceTable
from teamgate.pricing.tokens import prompt_token_bound
from teamgate.simulator import Simulator
from tests.conftest import RunningGateway, build_settings

MODEL = "llama-3.1-8b-instant"
CAP = 512  # analytics' max tokens per request
LONG = {"x-sim-completion-tokens": str(CAP)}  # the simulator answers with the whole cap


def worst_case(simulator: Simulator, tmp_path: Path, body: dict[str, Any]) -> int:
    settings = build_settings(simulator.url, tmp_path / "probe.db")  # type: ignore[attr-defined]
    return PriceTable.from_settings(settings).worst_case(MODEL, prompt_token_bound(body), CAP)


def usd(pico: int) -> str:
    return str(Decimal(pico) / 10**12)


def wait_for_records(gw: RunningGateway, count: int, timeout_s: float = 10.0) -> list[Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        records = gw.records()
        if len(records) >= count or time.monotonic() > deadline:
            return records
        time.sleep(0.05)


def wait_until_known(gw: RunningGateway, secret: str) -> None:
    """A key added to the store works once the gateway's key cache polled it (< 2 s)."""
    deadline = time.monotonic() + 10
    headers = {"authorization": f"Bearer {secret}"}
    while httpx.get(gw.url + "/teamgate/v1/usage", headers=headers).status_code != 200:
        assert time.monotonic() < deadline, "the new key never became known"
        time.sleep(0.1)
