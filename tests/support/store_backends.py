"""Store backends for the contract suites, and a ``store`` fixture over any of them.

To run the contract suite against another backend, add a factory to ``STORE_FACTORIES``
(e.g. ``"postgresql": make_postgres_store`` creating a fresh schema per test): every test
of tests/unit/ledger's contract suite then runs against it too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

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
