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
setting its ``revoked_at`` to its expiry time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import operator
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast

from teamgate.ledger import rollup
from teamgate.ledger.file_modes import owner_only
from teamgate.ledger.owned import ObjectKind, OwnedObject
from teamgate.ledger.records import ClientKey, UsageRecord, UsageSource
from teamgate.ledger.sqlite.audit import SQLiteAuditTable, ensure_audit_table
from teamgate.ledger.sqlite.pauses import PAUSE_SCHEMA, SQLitePauseTable
from teamgate.ledger.sqlite.sessions import SQLiteSessionTable, ensure_session_table
from teamgate.ledger.sqlite.transaction import immediate as _transaction
from teamgate.ledger.sqlite.upstream import UPSTREAM_SCHEMA, SQLiteUpstreamTables
from teamgate.ledger.summary import UsageGroup

SCHEMA_VERSION = 1

_P = ParamSpec("_P")
_T = TypeVar("_T")

_USAGE_COLUMNS = tuple(f.name for f in dataclasses.fields(UsageRecord))
_KEY_COLUMNS = tuple(f.name for f in dataclasses.fields(ClientKey))
# A record as a row, in _USAGE_COLUMNS order (sqlite3 stores a bool as 0/1).
_usage_to_row = operator.attrgetter(*_USAGE_COLUMNS)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (key, value) VALUES ('keys_version', 0);

CREATE TABLE IF NOT EXISTS client_keys (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    fingerprint TEXT NOT NULL,
    team TEXT NOT NULL,
    environment TEXT NOT NULL,
    purpose TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL,
    revoked_at REAL,
    last_used_at REAL,
    budget_pusd INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS client_keys_live_name
    ON client_keys (name) WHERE revoked_at IS NULL;

CREATE TABLE IF NOT EXISTS usage (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    request_id TEXT NOT NULL,
    groq_id TEXT NOT NULL,
    team TEXT NOT NULL,
    environment TEXT NOT NULL,
    purpose TEXT NOT NULL,
    client_key TEXT NOT NULL,
    upstream_key TEXT NOT NULL,
    model_requested TEXT NOT NULL,
    model_served TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL,
    cost_pusd INTEGER NOT NULL,
    status INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    streamed INTEGER NOT NULL,
    usage_source TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    refusal TEXT NOT NULL,
    end_user TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS usage_ts ON usage (ts, team, cost_pusd);  -- covers per-team sums
CREATE INDEX IF NOT EXISTS usage_team_ts ON usage (team, ts);

CREATE TABLE IF NOT EXISTS owned_objects (
    kind TEXT NOT NULL,
    object_id TEXT NOT NULL,
    team TEXT NOT NULL,
    environment TEXT NOT NULL,
    created_at REAL NOT NULL,
    worst_case_pusd INTEGER NOT NULL,
    settled_at REAL,
    info TEXT NOT NULL,
    PRIMARY KEY (kind, object_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS owned_objects_team ON owned_objects (kind, team, created_at);

CREATE TABLE IF NOT EXISTS alerts_fired (
    scope TEXT NOT NULL,
    period TEXT NOT NULL,
    threshold TEXT NOT NULL,
    fired_at REAL NOT NULL,
    PRIMARY KEY (scope, period, threshold)
) WITHOUT ROWID;
"""

# SQL built from the dataclasses' own field names only (constants, no input).
_SELECT_USAGE = f"SELECT {', '.join(_USAGE_COLUMNS)} FROM usage"  # noqa: S608
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
_ROW_MARKS = f"({', '.join('?' for _ in _USAGE_COLUMNS)})"
_INSERT_ROWS = {
    size: f"INSERT INTO usage ({', '.join(_USAGE_COLUMNS)}) "  # noqa: S608
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
            conn.execute(statement, [v for row in map(_usage_to_row, chunk) for v in row])
            start += size
    rollup.add_records(conn, records)


_INSERT_KEY = (
    f"INSERT INTO client_keys ({', '.join(_KEY_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join('?' for _ in _KEY_COLUMNS)})"
)
_SELECT_KEY = f"SELECT {', '.join(_KEY_COLUMNS)} FROM client_keys"  # noqa: S608
_OWNED_COLUMNS = tuple(f.name for f in dataclasses.fields(OwnedObject))
_INSERT_OWNED = (
    f"INSERT OR IGNORE INTO owned_objects ({', '.join(_OWNED_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join('?' for _ in _OWNED_COLUMNS)})"
)
_SELECT_OWNED = f"SELECT {', '.join(_OWNED_COLUMNS)} FROM owned_objects"  # noqa: S608
_BUMP_KEYS_VERSION = "UPDATE meta SET value = value + 1 WHERE key = 'keys_version'"


def _add_attribution_columns(conn: sqlite3.Connection) -> None:
    """Add ``end_user`` and ``tags`` to a ledger written before attribution (older rows:
    empty, i.e. no end user and no tags)."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(usage)")}
    for column in ("end_user", "tags"):
        if column not in have:
            conn.execute(f"ALTER TABLE usage ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")


class UnknownSchemaVersion(RuntimeError):
    """The database was written by a teamgate with another schema; refuse to use it."""


def _key_from_row(row: Sequence[Any]) -> ClientKey:
    return ClientKey(*row)


def _usage_from_row(row: Sequence[Any]) -> UsageRecord:
    values = dict(zip(_USAGE_COLUMNS, row, strict=True))
    values["streamed"] = bool(values["streamed"])
    values["usage_source"] = cast(UsageSource, values["usage_source"])
    return UsageRecord(**values)


def _ensure_key_budget_column(conn: sqlite3.Connection) -> None:
    """A file written before per-key budgets gets the (empty) column; nothing else moves."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(client_keys)")}
    if "budget_pusd" not in columns:
        conn.execute("ALTER TABLE client_keys ADD COLUMN budget_pusd INTEGER")


class SQLiteStore(SQLiteUpstreamTables, SQLiteAuditTable, SQLitePauseTable, SQLiteSessionTable):
    """A :class:`~teamgate.ledger.store.Store` on one SQLite file (or ``":memory:"``).

    Usage::

        store = SQLiteStore("teamgate.db")
        await store.open()
        await store.append_usage(records)
        groups = await store.usage_summary(month_start, month_end, ("team",))
        await store.close()
    """

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
            row = conn.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'"
                if self._has_table(conn, "meta")
                else "SELECT NULL"
            ).fetchone()
            if row is not None and row[0] is not None and row[0] != SCHEMA_VERSION:
                raise UnknownSchemaVersion(
                    f"{self.path}: schema version {row[0]} is not known to this teamgate "
                    f"(it knows version {SCHEMA_VERSION})"
                )
            with _transaction(conn):
                for statement in (_SCHEMA + UPSTREAM_SCHEMA).split(";"):
                    if statement.strip():
                        conn.execute(statement)
                ensure_audit_table(conn)
                _add_attribution_columns(conn)
                conn.execute(PAUSE_SCHEMA)
                _ensure_key_budget_column(conn)
                ensure_session_table(conn)
                conn.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (SCHEMA_VERSION,),
                )
            rollup.ensure_rollup(conn)
            if self.path != ":memory:":
                for suffix in ("-wal", "-shm"):  # SQLite copies the file's mode; be sure
                    owner_only(Path(self.path + suffix), create=False)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    @staticmethod
    def _has_table(conn: sqlite3.Connection, name: str) -> bool:
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        return found is not None

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

    # --- client keys ----------------------------------------------------------------
    async def add_client_key(self, key: ClientKey) -> None:
        await self._run(self._add_client_key, key)

    def _add_client_key(self, key: ClientKey) -> None:
        conn = self._db()
        with _transaction(conn):
            live = conn.execute(
                "SELECT id, expires_at FROM client_keys WHERE name = ? AND revoked_at IS NULL",
                (key.name,),
            ).fetchone()
            if live is not None:
                key_id, expires_at = live
                if expires_at is None or expires_at > key.created_at:
                    raise KeyError(f"a live client key is already named `{key.name}`")
                conn.execute(
                    "UPDATE client_keys SET revoked_at = expires_at WHERE id = ?", (key_id,)
                )
            try:
                conn.execute(_INSERT_KEY, dataclasses.astuple(key))
            except sqlite3.IntegrityError:
                raise ValueError(
                    f"client key `{key.name}`: a key with the same hash is already stored"
                ) from None
            conn.execute(_BUMP_KEYS_VERSION)

    async def get_client_key(self, name: str) -> ClientKey | None:
        """The non-revoked key of that name, else the most recently created revoked one."""
        return await self._run(self._get_client_key, name)

    def _get_client_key(self, name: str) -> ClientKey | None:
        row = (
            self._db()
            .execute(
                f"{_SELECT_KEY} WHERE name = ? ORDER BY revoked_at IS NULL DESC, created_at DESC, "
                "id DESC LIMIT 1",
                (name,),
            )
            .fetchone()
        )
        return None if row is None else _key_from_row(row)

    async def list_client_keys(self, *, include_revoked: bool = False) -> list[ClientKey]:
        """Keys by name then creation; expired keys are listed, revoked ones only on request."""
        return await self._run(self._list_client_keys, include_revoked)

    def _list_client_keys(self, include_revoked: bool) -> list[ClientKey]:
        where = "" if include_revoked else " WHERE revoked_at IS NULL"
        rows = self._db().execute(f"{_SELECT_KEY}{where} ORDER BY name, created_at, id")
        return [_key_from_row(row) for row in rows]

    async def revoke_client_key(self, name: str, at: float) -> bool:
        return await self._run(
            self._update_live_key, name, "UPDATE client_keys SET revoked_at = ?", (at,)
        )

    def _update_live_key(self, name: str, update: str, params: tuple[float, ...]) -> bool:
        conn = self._db()
        with _transaction(conn):
            cursor = conn.execute(
                f"{update} WHERE name = ? AND revoked_at IS NULL", (*params, name)
            )
            if cursor.rowcount == 0:
                return False
            conn.execute(_BUMP_KEYS_VERSION)
        return True

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

    async def rotate_client_key(
        self, successor: ClientKey, *, old_name_after: str, old_expires_at: float
    ) -> bool:
        return await self._run(self._rotate_client_key, successor, old_name_after, old_expires_at)

    def _rotate_client_key(self, successor: ClientKey, renamed: str, expires_at: float) -> bool:
        conn = self._db()
        with _transaction(conn):
            if conn.execute(
                "SELECT 1 FROM client_keys WHERE name = ? AND revoked_at IS NULL", (renamed,)
            ).fetchone():
                raise KeyError(f"a live client key is already named `{renamed}`")
            cursor = conn.execute(
                "UPDATE client_keys SET name = ?, expires_at = "
                "CASE WHEN expires_at IS NULL OR expires_at > ? THEN ? ELSE expires_at END "
                "WHERE name = ? AND revoked_at IS NULL",
                (renamed, expires_at, expires_at, successor.name),
            )
            if cursor.rowcount == 0:
                return False
            conn.execute(_INSERT_KEY, dataclasses.astuple(successor))
            conn.execute(_BUMP_KEYS_VERSION)
        return True

    async def client_keys_version(self) -> int:
        return await self._run(self._client_keys_version)

    def _client_keys_version(self) -> int:
        row = self._db().execute("SELECT value FROM meta WHERE key = 'keys_version'").fetchone()
        return int(row[0])

    async def ping(self) -> None:
        if self._executor is None:
            raise RuntimeError(f"{self!r} is not open")
        if self.path == ":memory:":
            await self._run(self._client_keys_version)
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

    # --- usage ledger ----------------------------------------------------------------
    async def append_usage(self, records: Sequence[UsageRecord]) -> None:
        if records:
            await self._run(self._append_usage, list(records))

    def _append_usage(self, records: list[UsageRecord]) -> None:
        conn = self._db()
        with _transaction(conn):
            _insert_usage(conn, records)

    async def usage_records(self, start: float, end: float) -> list[UsageRecord]:
        return await self._run(self._usage_records, start, end)

    def _usage_records(self, start: float, end: float) -> list[UsageRecord]:
        rows = self._db().execute(
            f"{_SELECT_USAGE} WHERE ts >= ? AND ts < ? ORDER BY ts, id",
            (start, end),
        )
        return [_usage_from_row(row) for row in rows]

    # --- grouped sums and exports (reports, admin API, dashboard) ---------------------
    async def usage_summary(
        self,
        start: float,
        end: float,
        group_by: Sequence[str] = (),
        *,
        tz: str = "UTC",
        team: str | None = None,
    ) -> list[UsageGroup]:
        """Sums per group in [start, end), computed by SQLite over exact roll-ups."""
        return await self._run(
            rollup.usage_summary, self._db(), start, end, tuple(group_by), tz, team
        )

    async def usage_page(
        self, start: float, end: float, after: int = 0, limit: int = 10_000
    ) -> tuple[list[UsageRecord], int]:
        """Up to ``limit`` records in [start, end) in insertion order after cursor ``after``;
        returns them and the cursor of the next page."""
        rows = await self._run(
            rollup.usage_page, self._db(), start, end, after, limit, ", ".join(_USAGE_COLUMNS)
        )
        if not rows:
            return [], after
        return [_usage_from_row(row[1:]) for row in rows], int(cast(int, rows[-1][0]))

    async def count_usage(self, start: float, end: float) -> int:
        return await self._run(rollup.count_usage, self._db(), start, end)

    # --- alert state -------------------------------------------------------------------
    async def mark_alert_fired(self, scope: str, period: str, threshold: str) -> bool:
        return await self._run(self._mark_alert_fired, scope, period, threshold)

    def _mark_alert_fired(self, scope: str, period: str, threshold: str) -> bool:
        conn = self._db()
        with _transaction(conn):
            cursor = conn.execute(
                "INSERT OR IGNORE INTO alerts_fired (scope, period, threshold, fired_at) "
                "VALUES (?, ?, ?, ?)",
                (scope, period, threshold, time.time()),
            )
        return cursor.rowcount == 1

    async def alerts_fired(self, scope: str, period: str) -> list[str]:
        result: list[str] = await self._run(self._alerts_fired, scope, period)
        return result

    def _alerts_fired(self, scope: str, period: str) -> list[str]:
        rows = self._db().execute(
            "SELECT threshold FROM alerts_fired WHERE scope = ? AND period = ?",
            (scope, period),
        )
        return sorted(str(row[0]) for row in rows)  # code point order, any collation

    # --- owned Groq files and batches ------------------------------------------------
    async def add_owned_object(self, obj: OwnedObject) -> None:
        await self._run(self._add_owned_object, obj)

    def _add_owned_object(self, obj: OwnedObject) -> None:
        conn = self._db()
        with _transaction(conn):
            conn.execute(_INSERT_OWNED, dataclasses.astuple(obj))

    async def get_owned_object(self, kind: ObjectKind, object_id: str) -> OwnedObject | None:
        return await self._run(self._get_owned_object, kind, object_id)

    def _get_owned_object(self, kind: ObjectKind, object_id: str) -> OwnedObject | None:
        row = (
            self._db()
            .execute(f"{_SELECT_OWNED} WHERE kind = ? AND object_id = ?", (kind, object_id))
            .fetchone()
        )
        return None if row is None else OwnedObject(*row)

    async def list_owned_objects(self, kind: ObjectKind, team: str) -> list[OwnedObject]:
        return await self._run(self._list_owned_objects, kind, team)

    def _list_owned_objects(self, kind: ObjectKind, team: str) -> list[OwnedObject]:
        rows = self._db().execute(
            f"{_SELECT_OWNED} WHERE kind = ? AND team = ? ORDER BY created_at, object_id",
            (kind, team),
        )
        return [OwnedObject(*row) for row in rows]

    async def delete_owned_object(self, kind: ObjectKind, object_id: str) -> bool:
        return await self._run(self._delete_owned_object, kind, object_id)

    def _delete_owned_object(self, kind: ObjectKind, object_id: str) -> bool:
        conn = self._db()
        with _transaction(conn):
            cursor = conn.execute(
                "DELETE FROM owned_objects WHERE kind = ? AND object_id = ?", (kind, object_id)
            )
        return cursor.rowcount == 1

    async def settle_owned_object(
        self, kind: ObjectKind, object_id: str, at: float, records: Sequence[UsageRecord]
    ) -> bool:
        return await self._run(self._settle_owned_object, kind, object_id, at, list(records))

    def _settle_owned_object(
        self, kind: ObjectKind, object_id: str, at: float, records: list[UsageRecord]
    ) -> bool:
        conn = self._db()
        with _transaction(conn):
            cursor = conn.execute(
                "UPDATE owned_objects SET settled_at = ? "
                "WHERE kind = ? AND object_id = ? AND settled_at IS NULL",
                (at, kind, object_id),
            )
            if cursor.rowcount != 1:
                return False
            if records:
                _insert_usage(conn, records)
        return True
