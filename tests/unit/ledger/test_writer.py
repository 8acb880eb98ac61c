"""The batched ledger writer: nothing lost, order kept, flushes without being asked."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import pytest

from teamgate.ledger.records import UsageRecord
from teamgate.ledger.sqlite.store import SQLiteStore
from teamgate.ledger.writer import LedgerNotFlushed, LedgerWriter
from tests.support.ledger_records import make_record

T0 = 1_700_000_000.0


class RecordingStore:
    """Only what the writer uses: append_usage, which can be made to fail N times."""

    def __init__(self, failures: int = 0) -> None:
        self.failures_left = failures
        self.attempts = 0
        self.batches: list[list[UsageRecord]] = []
        self.wrote = asyncio.Event()

    async def append_usage(self, records: Sequence[UsageRecord]) -> None:
        self.attempts += 1
        if self.failures_left:
            self.failures_left -= 1
            raise OSError("disk I/O error")
        self.batches.append(list(records))
        self.wrote.set()

    @property
    def records(self) -> list[UsageRecord]:
        return [r for batch in self.batches for r in batch]


def records(n: int) -> list[UsageRecord]:
    return [make_record(T0 + i, request_id=f"r{i}") for i in range(n)]


async def test_everything_appended_is_stored_after_close() -> None:
    store = SQLiteStore(":memory:")
    await store.open()
    try:
        writer = LedgerWriter(store, flush_interval_s=60)  # only close() flushes here
        writer.start()
        expected = records(1234)
        for record in expected:
            writer.append(record)
        assert writer.pending == 1234
        await writer.close()
        assert writer.pending == 0
        assert await store.usage_records(0, T0 + 10_000) == expected
    finally:
        await store.close()


async def test_close_without_start_flushes_too() -> None:
    store = RecordingStore()
    writer = LedgerWriter(store)  # type: ignore[arg-type]
    writer.append(make_record())
    await writer.close()
    assert store.records == [make_record()]


async def test_background_flush_happens_without_being_asked() -> None:
    store = RecordingStore()
    writer = LedgerWriter(store, flush_interval_s=0.01)  # type: ignore[arg-type]
    writer.start()
    try:
        writer.append(make_record())
        await asyncio.wait_for(store.wrote.wait(), timeout=10)
        assert store.records == [make_record()]
        assert writer.pending == 0
    finally:
        await writer.close()


async def test_failing_store_loses_nothing_and_keeps_order(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = RecordingStore(failures=2)
    writer = LedgerWriter(  # type: ignore[arg-type]
        store, flush_interval_s=0.001, retry_initial_s=0.001, retry_max_s=0.002
    )
    first, second = records(10), records(20)[10:]
    with caplog.at_level(logging.WARNING, logger="teamgate.ledger"):
        writer.start()
        for record in first:
            writer.append(record)
        await asyncio.wait_for(store.wrote.wait(), timeout=10)
        for record in second:
            writer.append(record)
        await writer.close()
    assert store.attempts >= 3
    assert store.records == first + second
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1  # once per failure streak, not once per attempt
    assert "10 records kept" in errors[0].getMessage()


async def test_flush_raises_but_keeps_the_records() -> None:
    store = RecordingStore(failures=1)
    writer = LedgerWriter(store)  # type: ignore[arg-type]
    writer.append(make_record())
    with pytest.raises(OSError):
        await writer.flush()
    assert writer.pending == 1 and writer.failing
    await writer.flush()
    assert writer.pending == 0 and not writer.failing
    assert store.records == [make_record()]


async def test_batches_are_at_most_max_batch() -> None:
    store = RecordingStore()
    writer = LedgerWriter(store, max_batch=4)  # type: ignore[arg-type]
    for record in records(10):
        writer.append(record)
    await writer.flush()
    assert [len(b) for b in store.batches] == [4, 4, 2]
    assert store.records == records(10)


async def test_a_full_batch_wakes_the_writer_before_the_interval() -> None:
    store = RecordingStore()
    writer = LedgerWriter(store, flush_interval_s=3600, max_batch=3)  # type: ignore[arg-type]
    writer.start()
    try:
        for record in records(3):
            writer.append(record)
        await asyncio.wait_for(store.wrote.wait(), timeout=10)
        assert store.records == records(3)
    finally:
        await writer.close()


async def test_close_gives_up_on_a_dead_store_without_dropping() -> None:
    store = RecordingStore(failures=10**9)
    writer = LedgerWriter(  # type: ignore[arg-type]
        store, retry_initial_s=0.001, retry_max_s=0.001
    )
    writer.append(make_record())
    with pytest.raises(LedgerNotFlushed, match="1 usage records"):
        await writer.close(timeout_s=0.01)
    assert writer.pending == 1


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        LedgerWriter(RecordingStore(), flush_interval_s=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        LedgerWriter(RecordingStore(), max_batch=0)  # type: ignore[arg-type]
