"""PostgreSQL specifics: schema versions, `teamgate migrate`, batched COPY, URL settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from teamgate.cli import main
from teamgate.ledger import open_store
from teamgate.ledger.postgres.schema import SchemaMismatch, latest_version
from teamgate.ledger.postgres.store import PostgresStore
from tests.support.ledger_records import make_record
from tests.support.shared_services import (
    POSTGRES_URL,
    create_schema,
    drop_schema,
    schema_url,
    unique_name,
)

T0 = 1_700_000_000.0


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    name = unique_name("test")
    await create_schema(name)
    try:
        yield name
    finally:
        await drop_schema(name)


async def test_open_refuses_a_database_without_schema(schema: str) -> None:
    store = PostgresStore(POSTGRES_URL, schema=schema)
    with pytest.raises(SchemaMismatch, match="run `teamgate migrate"):
        await store.open()


async def test_open_refuses_a_newer_schema(schema: str) -> None:
    store = PostgresStore(POSTGRES_URL, schema=schema)
    assert await store.migrate() == list(range(1, latest_version() + 1))
    assert await store.migrate() == []  # idempotent
    conn = await asyncpg.connect(POSTGRES_URL, server_settings={"search_path": schema})
    try:
        await conn.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, 'future')",
            latest_version() + 1,
        )
    finally:
        await conn.close()
    with pytest.raises(SchemaMismatch, match="newer than this teamgate knows"):
        await store.open()
    with pytest.raises(SchemaMismatch, match="newer"):
        await store.migrate()


async def test_search_path_in_the_url_selects_the_schema(schema: str) -> None:
    migrator = PostgresStore(POSTGRES_URL, schema=schema)
    await migrator.migrate()
    store = open_store(schema_url(schema))
    await store.open()
    try:
        await store.append_usage([make_record(T0)])
        assert len(await store.usage_records(T0, T0 + 1)) == 1
    finally:
        await store.close()


async def test_a_batch_of_5000_is_one_copy_statement(
    schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PostgresStore(POSTGRES_URL, schema=schema, max_size=1)  # one connection to watch
    await store.migrate()
    await store.open()
    statements: list[str] = []
    copies: list[int] = []
    real_copy = asyncpg.Connection.copy_records_to_table

    async def counting_copy(self: asyncpg.Connection, table: str, **kw: object) -> str:
        copies.append(len(kw["records"]))  # type: ignore[arg-type]
        return await real_copy(self, table, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(asyncpg.Connection, "copy_records_to_table", counting_copy)
    try:
        async with store._db().acquire() as conn:
            conn.add_query_logger(lambda q: statements.append(q.query))
            records = [make_record(T0 + i * 1e-3, request_id=f"r{i}") for i in range(5000)]
        await store.append_usage(records)
        (total,) = await store.usage_summary(T0, T0 + 60, ("team",))
        assert total.requests == 5000
    finally:
        await store.close()
    assert copies == [5000]  # the whole batch in one COPY
    inserts = [q for q in statements if "INSERT" in q.upper()]
    # no record goes in with an INSERT; the batch's roll-up sums are ONE upsert
    assert len(inserts) == 1 and inserts[0].startswith("INSERT INTO usage_rollup ")


def test_migrate_cli_creates_the_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    name = unique_name("test")
    asyncio.run(create_schema(name))
    try:
        config = tmp_path / "teamgate.yaml"
        config.write_text(
            f"storage:\n  url: {schema_url(name)}\n"
            "teams:\n  a:\n    allowed_models: [llama-3.1-8b-instant]\n"
            "    max_tokens_per_request: 100\n"
            "    environments:\n      prod:\n        upstream_keys:\n"
            "          - {name: a-prod, secret: 'env:A_KEY'}\n"
        )
        assert main(["migrate", "--config", str(config)]) == 0
        assert "applied migration(s) 1" in capsys.readouterr().out
        assert main(["migrate", "--config", str(config)]) == 0
        assert "up to date" in capsys.readouterr().out
    finally:
        asyncio.run(drop_schema(name))
