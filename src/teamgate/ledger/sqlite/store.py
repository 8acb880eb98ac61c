"""The SQLite :class:`~teamgate.ledger.store.Store`: one file in WAL mode, one writer thread.

Every call runs on a single dedicated worker thread that owns the connection,
so writes are serialized and the event loop never blocks on disk. WAL with
``synchronous=NORMAL`` keeps every committed transaction across a crash of the
process (kill -9); only a power loss can take the last commits.

>>> import asyncio
>>> async def demo() -> int:
...     store = SQLiteStore(":memory:")
...     await store.open()
...     try:
...         return await store.client_keys_version()
...     finally:
...         await store.close()
>>> asyncio.run(demo())
0

Client keys: a name is unique among non-revoked keys (a partial unique index).
``revoke_client_key`` acts on the non-revoked key of
that name, expired or not. Adding a key whose name belongs to a key that has
already expired (at the new key's ``created_at``) retires the old one first, by
setting its ``revoked_at`` to its expiry time (``ledger/rules.py``).

What is the same SQL on both stores is in :class:`~teamgate.ledger.queries.SharedQueries`;
here are the SQLite driver (:meth:`SQLiteStore._fetch`, ``_execute``, ``_apply``),
the batch insert of usage records and the summaries over the roll-up.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from teamgate.ledger import rules
from teamgate.ledger.file_modes import owner_only
from teamgate.ledger.queries import SharedQueries
from teamgate.ledger.records import UsageRecord
from teamgate.ledger.rollup import Runs, SummaryPlan
from teamgate.ledger.sql import LIVE_NAME_INDEX, SQLITE, USAGE_COLUMNS, usage_row
from teamgate.ledger.sqlite import summary
from teamgate.ledger.sqlite.schema import UnknownSchemaVersion, check_version, create_tables
from teamgate.ledger.sqlite.transaction import immediate as _transaction
from teamgate.ledger.sqlite.upstream import SQLiteUpstreamTables

__all__ = ["SQLiteStore", "UnknownSchemaVersion"]

_P = ParamSpec("_P")
_T = TypeVar("_T")

# Records go in as multi-row INSERTs, not executemany: executemany steps once per
# row and takes the GIL back for every row, so while the event loop is busy the
# writer thread waits up to the interpreter's switch interval per row. Measured with
# a busy Python thread beside it: 282 records/s with executemany, 18,438 with one
# statement per 1,000 rows. Under sustained load the ledger fell behind and its
# backlog was the gateway's memory growth (docs/benchmark.md, Memory). A batch is
# cut greedily into statements of these sizes, so at most four statements are ever
# prepared (a statement per batch size would fill SQLite's statement cache with
# large prepared statements: that grew RSS by ~2 MiB a second).
_INSERT_SIZES = (256, 32, 4, 1)
_ROW_MARKS = f"({', '.join('?' for _ in USAGE_COLUMNS)})"
_INSERT_ROWS = {
    size: f"INSERT INTO usage ({', '.join(USAGE_COLUMNS)}) "  # noqa: S608
    f"VALUES {', '.join([_ROW_MARKS] * size)}"
    for size in _INSERT_SIZES
}


def _insert_usage(conn: sqlite3.Connection, records: Sequence[UsageRecord]) -> None:
    """Insert ``records`` and add them to the roll-ups (inside the caller's transaction)."""
    start = 0
    for size in _INSERT_SIZES:
        statement = _INSERT_ROWS[size]
        while len(records) - start >= size:
            chunk = records[start : start + size]
            conn.execute(statement, [v for row in map(usage_row, chunk) for v in row])
            start += size
    summary.add_records(conn, records)


def _unique_violation(exc: sqlite3.IntegrityError) -> rules.UniqueViolation:
    """PostgreSQL names the index; SQLite names its columns ("… failed: client_keys.name")."""
    return rules.UniqueViolation(LIVE_NAME_INDEX if "client_keys.name" in str(exc) else str(exc))


class SQLiteStore(SQLiteUpstreamTables, SharedQueries):
    """A :class:`~teamgate.ledger.store.Store` on one SQLite file (or ``":memory:"``).

    Usage::

        store = SQLiteStore("teamgate.db")
        await store.open()
        await store.append_usage(records)
        groups = await store.usage_summary(month_start, month_end, ("team",))
        await store.close()
    """

    _dialect = SQLITE

    def __init__(self, path: str) -> None:
        self.path = path
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    async def _run(self, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        if self._executor is None:
            raise RuntimeError(f"{self!r} is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"{self!r} is not open")
        return self._conn

    # --- the driver of the shared SQL (ledger/queries.py, ledger/rules.py) --------------------
    async def _fetch(self, template: str, *params: Any) -> list[Any]:
        return await self._run(self._fetch_sync, SQLITE.render(template), params)

    def _fetch_sync(self, statement: str, params: Sequence[Any]) -> list[Any]:
        return self._db().execute(statement, params).fetchall()

    async def _execute(self, template: str, *params: Any) -> int:
        return await self._run(self._execute_sync, SQLITE.render(template), params)

    def _execute_sync(self, statement: str, params: Sequence[Any]) -> int:
        return self._db().execute(statement, params).rowcount

    async def _apply(self, rule: rules.Rule[_T]) -> _T:
        return await self._run(self._apply_sync, rule)

    def _apply_sync(self, rule: rules.Rule[_T]) -> _T:
        conn = self._db()
        with _transaction(conn):
            done, step = rules.resume(rule)
            while not done:
                try:
                    result, error = self._step(conn, step), None
                except sqlite3.IntegrityError as exc:
                    result, error = None, _unique_violation(exc)
                done, step = rules.resume(rule, result, error)
        answer: _T = step
        return answer

    @staticmethod
    def _step(conn: sqlite3.Connection, op: rules.Op) -> object:
        if isinstance(op, rules.AppendUsage):
            _insert_usage(conn, op.records)
            return None
        statement = SQLITE.render(op.template)
        if isinstance(op, rules.ExecuteMany):
            conn.executemany(statement, op.rows)
            return None
        cursor = conn.execute(statement, op.params)
        return cursor.fetchall() if isinstance(op, rules.Fetch) else cursor.rowcount

    # --- lifecycle ---------------------------------------------------------------
    async def open(self) -> None:
        if self._executor is not None:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="teamgate-sqlite")
        try:
            await self._run(self._open_sync)
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise

    def _open_sync(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            owner_only(Path(self.path))  # usage, key hashes, audit: not for other users
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=5000")
            check_version(conn, self.path)
            create_tables(conn)
            summary.ensure_rollup(conn)
            if self.path != ":memory:":
                for suffix in ("-wal", "-shm"):  # SQLite copies the file's mode; be sure
                    owner_only(Path(self.path + suffix), create=False)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    async def close(self) -> None:
        executor = self._executor
        if executor is None:
            return
        try:
            await self._run(self._close_sync)
        finally:
            self._executor = None
            executor.shutdown(wait=False)

    def _close_sync(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def ping(self) -> None:
        if self._executor is None:
            raise RuntimeError(f"{self!r} is not open")
        if self.path == ":memory:":
            await self.client_keys_version()
            return
        # Its own read-only connection, off the writer's thread: under load the writer's
        # queue holds batches, and a probe queued behind them would call a busy gateway
        # unready (WAL lets this reader in while a write is under way).
        await asyncio.to_thread(self._ping_sync)

    def _ping_sync(self) -> None:
        uri = Path(self.path).resolve().as_uri() + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=1.0)
        try:
            conn.execute("SELECT value FROM meta WHERE key = 'keys_version'").fetchone()
        finally:
            conn.close()

    # --- what SQLite does its own way -------------------------------------------------------
    async def touch_client_keys(self, last_used: dict[str, float]) -> None:
        if last_used:
            await self._run(self._touch_client_keys, list(last_used.items()))

    def _touch_client_keys(self, items: list[tuple[str, float]]) -> None:
        conn = self._db()
        with _transaction(conn):
            conn.executemany(
                "UPDATE client_keys SET last_used_at = ?2 WHERE name = ?1 "
                "AND revoked_at IS NULL AND (last_used_at IS NULL OR last_used_at < ?2)",
                items,
            )

    async def _summary_rows(
        self, dims: Sequence[str], plan: SummaryPlan, runs: Runs, tz: str, team: str | None
    ) -> list[tuple[object, ...]]:
        return await self._run(summary.summary_rows, self._db(), dims, plan, runs, team)
