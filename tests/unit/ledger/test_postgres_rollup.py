"""PostgreSQL roll-ups: migration 0010 back-fills them, and two instances writing the
same buckets at once end with exact sums (their upserts lock buckets in one order)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from teamgate.ledger.postgres import schema as schema_module
from teamgate.ledger.postgres.schema import known_migrations
from teamgate.ledger.postgres.store import PostgresStore
from teamgate.ledger.rollup import ROLLUP_COLUMNS, bucket_sums
from teamgate.ledger.sql import USAGE_COLUMNS, usage_row

from . import test_postgres_store as postgres
from .test_summary_contract import T0, expected, sample_records

DIMS = ("team", "environment", "purpose", "key", "model", "refusal", "status")


schema = postgres.schema  # a fresh PostgreSQL schema per test, dropped after it
POSTGRES_URL = postgres.POSTGRES_URL


async def _connect(schema: str) -> asyncpg.Connection:
    return await asyncpg.connect(POSTGRES_URL, server_settings={"search_path": schema})


async def _rollup_rows(schema: str) -> list[tuple[object, ...]]:
    conn = await _connect(schema)
    try:
        rows = await conn.fetch(f"SELECT {', '.join(ROLLUP_COLUMNS)} FROM usage_rollup")
    finally:
        await conn.close()
    return sorted((tuple(row) for row in rows), key=repr)


async def test_migration_0010_back_fills_the_rows_written_before(
    schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = sample_records()
    every = known_migrations()
    monkeypatch.setattr(schema_module, "known_migrations", lambda: every[:9])
    assert await PostgresStore(POSTGRES_URL, schema=schema).migrate() == list(range(1, 10))
    conn = await _connect(schema)  # rows written by a teamgate of schema version 9
    try:
        await conn.copy_records_to_table(
            "usage", records=[usage_row(r) for r in records], columns=USAGE_COLUMNS
        )
    finally:
        await conn.close()
    monkeypatch.setattr(schema_module, "known_migrations", lambda: every)
    store = PostgresStore(POSTGRES_URL, schema=schema)
    assert await store.migrate() == [10]
    assert await _rollup_rows(schema) == sorted(bucket_sums(records), key=repr)
    await store.open()
    try:
        span = (T0 + 1234.5, T0 + 2 * 86400 + 77.25)
        assert await store.usage_summary(*span, DIMS) == expected(records, *span, DIMS)
    finally:
        await store.close()


async def test_two_instances_adding_to_the_same_buckets_at_once_sum_exactly(
    schema: str,
) -> None:
    first = PostgresStore(POSTGRES_URL, schema=schema, max_size=4)
    await first.migrate()
    second = PostgresStore(POSTGRES_URL, schema=schema, max_size=4)
    await first.open()
    await second.open()
    try:
        records = sample_records(2400, seed=3)
        # 24 batches at once over two pools: each spans the same three days of buckets
        batches = [records[i : i + 100] for i in range(0, len(records), 100)]
        await asyncio.gather(
            *((first if i % 2 else second).append_usage(batch) for i, batch in enumerate(batches))
        )
        assert await _rollup_rows(schema) == sorted(bucket_sums(records), key=repr)
        span = (T0 - 10.0, T0 + 3 * 86400 + 10.0)
        assert await first.usage_summary(*span, DIMS) == expected(records, *span, DIMS)
    finally:
        await first.close()
        await second.close()
