"""Reading the running gateway's ledger once the request handlers have written it."""

from __future__ import annotations

import asyncio
import time

from teamgate.ledger.records import UsageRecord
from tests.conftest import RunningGateway


def records_after(gw: RunningGateway, count: int, *, timeout_s: float = 10.0) -> list[UsageRecord]:
    """Every ledger record, once at least ``count`` were written (the handler records
    after the client has its answer, so the test waits for that condition)."""
    ledger = gw.app.gateway.ledger
    task = ledger._task
    assert task is not None
    loop = task.get_loop()
    deadline = time.monotonic() + timeout_s
    while True:
        asyncio.run_coroutine_threadsafe(ledger.flush(), loop).result(timeout_s)
        records = gw.records()  # settled batches are written to the store directly
        if len(records) >= count or time.monotonic() > deadline:
            break
        time.sleep(0.005)
    assert len(records) >= count, f"expected {count} ledger records, got {len(records)}"
    return records
