"""Store backends for the contract suite, and record factories.

To run the contract suite against another backend, add a factory to
``STORE_FACTORIES`` (e.g. ``"postgresql": make_postgres_store`` creating a
fresh schema per test): every test in ``test_store_contract.py`` then runs
against it too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from teamgate.ledger.records import ClientKey, UsageRecord
from teamgate.ledger.sqlite.store import SQLiteStore
from teamgate.ledger.store import Store


def make_sqlite_file_store(tmp_path: Path) -> Store:
    return SQLiteStore(str(tmp_path / "ledger" / "teamgate.db"))


def make_sqlite_memory_store(tmp_path: Path) -> Store:
    return SQLiteStore(":memory:")


def make_postgres_store(tmp_path: Path) -> Store:
    """A fresh schema per test (created on open, dropped on close): parallel-safe."""
    from tests.support.shared_services import TempSchemaPostgresStore

    return TempSchemaPostgresStore()


STORE_FACTORIES: dict[str, Callable[[Path], Store]] = {
    "sqlite-file": make_sqlite_file_store,
    "sqlite-memory": make_sqlite_memory_store,
    "postgresql": make_postgres_store,
}


def store_fixture(*backends: str) -> Any:
    """A ``store`` fixture opened on each of ``backends`` (names of STORE_FACTORIES)."""

    @pytest.fixture(params=list(backends))
    async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
        backend = STORE_FACTORIES[request.param](tmp_path)
        await backend.open()
        try:
            yield backend
        finally:
            await backend.close()

    return store


store = store_fixture(*sorted(STORE_FACTORIES))


def make_key(name: str = "chatbot-prod-web", **overrides: Any) -> ClientKey:
    team, environment, purpose = [*name.split("-", 2), "x", "x"][:3]
    values: dict[str, Any] = {
        "name": name,
        "key_hash": f"hash-of-{name}",
        "fingerprint": "tg_…abcd",
        "team": team,
        "environment": environment,
        "purpose": purpose,
        "created_at": 1_700_000_000.0,
    }
    values.update(overrides)
    return ClientKey(**values)


def make_record(ts: float = 1_700_000_000.0, **overrides: Any) -> UsageRecord:
    values: dict[str, Any] = {
        "ts": ts,
        "request_id": f"req-{ts}",
        "groq_id": "req_01abc",
        "team": "chatbot",
        "environment": "prod",
        "purpose": "web",
        "client_key": "chatbot-prod-web",
        "upstream_key": "chatbot-prod-2026-04",
        "model_requested": "fast",
        "model_served": "llama-3.1-8b-instant",
        "prompt_tokens": 37,
        "completion_tokens": 12,
        "cached_tokens": 0,
        "cost_pusd": 37 * 50_000 + 12 * 80_000,
        "status": 200,
        "latency_ms": 12.5,
        "streamed": False,
        "usage_source": "reported",
    }
    values.update(overrides)
    return UsageRecord(**values)
