"""The SQLite ledger writes a batch in a handful of statements, whatever its size.

``executemany`` steps once per row and takes the GIL back for every row; with a
busy event loop beside it the writer thread then waited up to the switch
interval per row, fell behind, and its backlog grew the gateway's memory (see
docs/benchmark.md, Memory). These tests pin the property that fixed it: the
number of statements per batch (each one GIL hand-off) and the number of
distinct statements ever prepared stay small, and every record lands intact.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from teamgate.ledger.sqlite.store import SQLiteStore
from tests.support.ledger_records import make_record


async def _traced(store: SQLiteStore) -> list[str]:
    """Every statement the store's connection runs from now on (set on its own thread)."""
    seen: list[str] = []

    def trace() -> None:
        store._db().set_trace_callback(seen.append)

    await store._run(trace)
    return seen


@pytest.mark.parametrize("size", [1, 3, 31, 257, 1000, 2500])
async def test_a_batch_is_a_few_statements_and_every_record_lands(
    tmp_path: Path, size: int
) -> None:
    store = SQLiteStore(str(tmp_path / "ledger.db"))
    await store.open()
    try:
        seen = await _traced(store)
        records = [
            make_record(ts=1_700_000_000.0 + i, request_id=f"r{i}", cost_pusd=i * 7)
            for i in range(size)
        ]
        await store.append_usage(records)
        inserts = [s for s in seen if s.startswith("INSERT INTO usage (")]
        # greedy cuts of 256, 32, 4 and 1 rows: never more than 256ths plus 7+7+3
        assert len(inserts) <= size // 256 + 17
        stored = await store.usage_records(0, 2e9)
        assert sorted(stored, key=lambda r: r.request_id) == sorted(
            records, key=lambda r: r.request_id
        )
    finally:
        await store.close()


async def test_batches_of_every_size_prepare_at_most_four_insert_statements(
    tmp_path: Path,
) -> None:
    """One prepared statement per batch size would fill SQLite's statement cache with
    large statements (that grew RSS by megabytes a second under load)."""
    store = SQLiteStore(str(tmp_path / "ledger.db"))
    await store.open()
    try:
        seen = await _traced(store)
        n = 0
        for size in range(1, 300, 7):
            await store.append_usage([make_record(request_id=f"b{n + i}") for i in range(size)])
            n += size
        shapes = {s.count("),") for s in seen if s.startswith("INSERT INTO usage (")}
        assert len(shapes) <= 4
        with sqlite3.connect(tmp_path / "ledger.db") as conn:
            assert conn.execute("SELECT count(*) FROM usage").fetchone()[0] == n
    finally:
        await store.close()
