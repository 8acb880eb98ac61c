"""What is specific to the SQLite store: WAL, one worker thread, durability, schema check, URLs."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from teamgate.config.errors import ConfigError
from teamgate.ledger.open import open_store
from teamgate.ledger.rules import Rule
from teamgate.ledger.sqlite.store import SQLiteStore, UnknownSchemaVersion
from tests.support.ledger_records import make_key, make_record

T0 = 1_700_000_000.0


async def test_file_store_uses_wal_and_survives_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "teamgate.db")
    store = SQLiteStore(path)
    await store.open()
    await store.add_client_key(make_key())
    await store.append_usage([make_record(T0, cost_pusd=42)])
    assert await store.mark_alert_fired("org", "2026-11", "0.5")
    version = await store.client_keys_version()
    await store.close()

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    reopened = SQLiteStore(path)
    await reopened.open()
    try:
        (total,) = await reopened.usage_summary(T0, T0 + 1, ("team",))
        assert total.cost_pusd == 42
        assert await reopened.get_client_key(make_key().name) == make_key()
        assert await reopened.client_keys_version() == version
        assert not await reopened.mark_alert_fired("org", "2026-11", "0.5")  # fired before
    finally:
        await reopened.close()


async def test_a_file_from_before_key_budgets_gets_the_column(tmp_path: Path) -> None:
    path = str(tmp_path / "old.db")
    store = SQLiteStore(path)
    await store.open()
    await store.add_client_key(make_key("chatbot-prod-web"))
    await store.close()
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE client_keys DROP COLUMN budget_pusd")  # as written before
    conn.commit()
    conn.close()
    store = SQLiteStore(path)
    await store.open()
    try:
        assert await store.get_client_key("chatbot-prod-web") == make_key("chatbot-prod-web")
        await store.add_client_key(make_key("chatbot-staging-job", budget_pusd=5))
        budgeted = await store.get_client_key("chatbot-staging-job")
        assert budgeted is not None and budgeted.budget_pusd == 5
    finally:
        await store.close()


async def test_every_call_runs_on_one_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    store = SQLiteStore(":memory:")
    threads: set[str] = set()
    original = SQLiteStore._apply_sync  # every write transaction, appends included

    def spy(self: SQLiteStore, rule: Rule[object]) -> object:
        threads.add(threading.current_thread().name)
        return original(self, rule)

    monkeypatch.setattr(SQLiteStore, "_apply_sync", spy)
    await store.open()
    try:
        for i in range(5):
            await store.append_usage([make_record(T0 + i)])
    finally:
        await store.close()
    assert len(threads) == 1
    (name,) = threads
    assert name != threading.current_thread().name and name.startswith("teamgate-sqlite")


async def test_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "teamgate.db")
    store = SQLiteStore(path)
    await store.open()
    await store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = 99 WHERE key = 'schema_version'")
    with pytest.raises(UnknownSchemaVersion, match="99"):
        await SQLiteStore(path).open()


async def test_a_failed_batch_writes_nothing(tmp_path: Path) -> None:
    store = SQLiteStore(":memory:")
    await store.open()
    try:
        bad = make_record(T0 + 1, cost_pusd=2**64)  # beyond SQLite's 64-bit integers
        with pytest.raises(OverflowError):
            await store.append_usage([make_record(T0), bad])
        assert await store.usage_records(0, T0 + 10) == []
    finally:
        await store.close()


async def test_calls_on_a_closed_store_fail_clearly() -> None:
    store = SQLiteStore(":memory:")
    with pytest.raises(RuntimeError, match="not open"):
        await store.client_keys_version()
    await store.open()
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(RuntimeError, match="not open"):
        await store.append_usage([make_record()])


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///teamgate.db", "teamgate.db"),
        ("sqlite:///data/teamgate.db", "data/teamgate.db"),
        ("sqlite:////var/lib/teamgate/teamgate.db", "/var/lib/teamgate/teamgate.db"),
        ("sqlite://:memory:", ":memory:"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_open_store_maps_sqlite_urls(url: str, path: str) -> None:
    store = open_store(url)
    assert isinstance(store, SQLiteStore) and store.path == path


@pytest.mark.parametrize(
    "url",
    ["postgresql://u:secret@db/teamgate", "postgres://db/x", "postgresql+asyncpg://db/x"],
)
def test_open_store_maps_postgres_urls(url: str) -> None:
    from teamgate.ledger.postgres.store import PostgresStore

    store = open_store(url)
    assert isinstance(store, PostgresStore) and store.url.startswith("postgresql://")
    assert "secret" not in repr(store)


@pytest.mark.parametrize("url", ["mysql://u:secret@h/db", "teamgate.db", "sqlite:///", ""])
def test_open_store_rejects_other_urls(url: str) -> None:
    with pytest.raises(ConfigError) as err:
        open_store(url)
    assert err.value.path == "storage.url" and "secret" not in str(err.value)
