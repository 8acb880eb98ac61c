"""The audit trail, the same in every store: append, page newest first, never changed."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from teamgate.ledger.audit_records import AuditEntry
from teamgate.ledger.sqlite.store import SQLiteStore
from teamgate.ledger.store import Store


def entry(i: int, ts: float) -> AuditEntry:
    return AuditEntry.new(
        f"cli:ops{i}@host",
        "keys.create",
        f"chatbot-prod-k{i}",
        before={},
        after={"team": "chatbot", "n": i},
        source="10.0.0.1",
        ts=ts,
    )


async def test_append_and_page_newest_first(store: Store) -> None:
    ids = [await store.append_audit(entry(i, 1000.0 + i)) for i in range(25)]
    assert ids == sorted(ids) and len(set(ids)) == 25
    first = await store.audit_entries(limit=10)
    assert [e.target for e in first] == [f"chatbot-prod-k{i}" for i in range(24, 14, -1)]
    second = await store.audit_entries(limit=10, before_id=first[-1].id)
    assert [e.target for e in second] == [f"chatbot-prod-k{i}" for i in range(14, 4, -1)]
    last = await store.audit_entries(limit=10, before_id=second[-1].id)
    assert len(last) == 5
    since = await store.audit_entries(since=1020.0)
    assert [e.target for e in since] == [f"chatbot-prod-k{i}" for i in range(24, 19, -1)]
    got = first[0]
    assert got.as_json() == {
        "id": ids[-1],
        "ts": 1024.0,
        "actor": "cli:ops24@host",
        "action": "keys.create",
        "target": "chatbot-prod-k24",
        "before": {},
        "after": {"n": 24, "team": "chatbot"},
        "source": "10.0.0.1",
    }


async def test_empty_trail(store: Store) -> None:
    assert await store.audit_entries() == []


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"])
async def test_sqlite_audit_log_is_append_only(tmp_path: Path, statement: str) -> None:
    path = tmp_path / "ledger.db"
    store = SQLiteStore(str(path))
    await store.open()
    try:
        await store.append_audit(entry(1, 1.0))
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute(statement)
    conn.close()


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"],
)
async def test_postgres_audit_log_is_append_only(statement: str) -> None:
    from tests.support.shared_services import TempSchemaPostgresStore

    store = TempSchemaPostgresStore()
    await store.open()
    try:
        await store.append_audit(entry(1, 1.0))
        async with store._db().acquire() as conn:
            with pytest.raises(Exception, match="append-only"):
                await conn.execute(statement)
        assert len(await store.audit_entries()) == 1
    finally:
        await store.close()


async def test_sqlite_ledger_and_its_wal_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    path.write_bytes(b"")
    os.chmod(path, 0o644)  # an existing file is tightened too
    path.unlink()
    store = SQLiteStore(str(path))
    await store.open()
    try:
        await store.append_audit(entry(1, 1.0))
        for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            assert oct(os.stat(file).st_mode & 0o777) == "0o600", file
    finally:
        await store.close()
    os.chmod(path, 0o644)
    store = SQLiteStore(str(path))
    await store.open()
    await store.close()
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def test_spill_files_are_owner_only(tmp_path: Path) -> None:
    from teamgate.ledger.spill import read_spill, write_spill
    from tests.support.ledger_records import make_record

    path = write_spill(tmp_path, [make_record()], now=1.0)
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert len(read_spill(path)) == 1
