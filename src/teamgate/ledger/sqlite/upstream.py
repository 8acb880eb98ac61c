"""Upstream key state and usage for :class:`~teamgate.ledger.sqlite.store.SQLiteStore`.

A mixin: the methods run on the store's single writer thread through its
``_run`` and use its connection through ``_db``. Three tables: ``upstream_keys``
(state changes and keys added by rotation, with secret references only),
``upstream_usage`` (totals per key) and ``upstream_usage_hourly`` (hourly
buckets for the last-24-hours count, pruned after 48 hours).

>>> import asyncio
>>> from teamgate.ledger.sqlite.store import SQLiteStore
>>> async def demo() -> list[str]:
...     store = SQLiteStore(":memory:")
...     await store.open()
...     try:
...         await store.set_upstream_key_states(
...             [UpstreamKeyState("p-2026-05", "p", "active", "env:K", 0, 1.0)]
...         )
...         return [s.name for s in await store.upstream_key_states()]
...     finally:
...         await store.close()
>>> asyncio.run(demo())
['p-2026-05']
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from teamgate.ledger.sqlite.transaction import immediate
from teamgate.ledger.upstream_records import UpstreamKeyState, UpstreamKeyUsage, UpstreamUsageDelta

HOUR_S = 3600
KEEP_HOURS_S = 48 * HOUR_S

UPSTREAM_SCHEMA = """
INSERT OR IGNORE INTO meta (key, value) VALUES ('upstream_version', 0);

CREATE TABLE IF NOT EXISTS upstream_keys (
    name TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    state TEXT NOT NULL,
    secret_ref TEXT NOT NULL,
    preferred_order INTEGER NOT NULL,
    updated_at REAL NOT NULL,
    fingerprint TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS upstream_usage (
    name TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    requests INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    first_used_at REAL,
    last_used_at REAL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS upstream_usage_hourly (
    name TEXT NOT NULL,
    hour INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    PRIMARY KEY (name, hour)
) WITHOUT ROWID;
"""

_STATE_COLUMNS = tuple(f.name for f in dataclasses.fields(UpstreamKeyState))
_UPSERT_STATE = (
    f"INSERT OR REPLACE INTO upstream_keys ({', '.join(_STATE_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join('?' for _ in _STATE_COLUMNS)})"
)
_SELECT_STATES = (
    f"SELECT {', '.join(_STATE_COLUMNS)} FROM upstream_keys "  # noqa: S608
    "ORDER BY project, preferred_order, name"
)


class SQLiteUpstreamTables:
    """The upstream-key part of the SQLite store (mixed into ``SQLiteStore``)."""

    # Provided by SQLiteStore.
    _run: Callable[..., Any]
    _db: Callable[[], sqlite3.Connection]

    async def set_upstream_key_states(self, states: Sequence[UpstreamKeyState]) -> None:
        if states:
            await self._run(self._set_upstream_key_states, list(states))

    def _set_upstream_key_states(self, states: list[UpstreamKeyState]) -> None:
        conn = self._db()
        with immediate(conn):
            conn.executemany(_UPSERT_STATE, [dataclasses.astuple(s) for s in states])
            conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'upstream_version'")

    async def upstream_key_states(self) -> list[UpstreamKeyState]:
        rows: list[tuple[Any, ...]] = await self._run(self._fetch, _SELECT_STATES, ())
        return [UpstreamKeyState(*row) for row in rows]

    async def upstream_state_version(self) -> int:
        rows = await self._run(
            self._fetch, "SELECT value FROM meta WHERE key = 'upstream_version'", ()
        )
        return int(rows[0][0])

    def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return list(self._db().execute(sql, params))

    async def record_upstream_usage(self, usage: dict[str, UpstreamUsageDelta]) -> None:
        if usage:
            await self._run(self._record_upstream_usage, dict(usage))

    def _record_upstream_usage(self, usage: dict[str, UpstreamUsageDelta]) -> None:
        conn = self._db()
        with immediate(conn):
            for name, d in usage.items():
                conn.execute(
                    "INSERT INTO upstream_usage "
                    "(name, fingerprint, requests, failures, first_used_at, last_used_at) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (name) DO UPDATE SET "
                    "fingerprint = CASE WHEN ?2 = '' THEN fingerprint ELSE ?2 END, "
                    "requests = requests + ?3, failures = failures + ?4, "
                    "first_used_at = MIN(COALESCE(first_used_at, ?5), ?5), "
                    "last_used_at = MAX(COALESCE(last_used_at, ?6), ?6)",
                    (name, d.fingerprint, d.requests, d.failures, d.first_used_at, d.last_used_at),
                )
                conn.executemany(
                    "INSERT INTO upstream_usage_hourly (name, hour, requests) VALUES (?1, ?2, ?3) "
                    "ON CONFLICT (name, hour) DO UPDATE SET requests = requests + ?3",
                    [(name, int(hour), n) for hour, n in d.by_hour.items()],
                )
            newest = max((d.last_used_at for d in usage.values()), default=0.0)
            conn.execute(
                "DELETE FROM upstream_usage_hourly WHERE hour < ?", (newest - KEEP_HOURS_S,)
            )

    async def upstream_key_usage(self, now: float) -> list[UpstreamKeyUsage]:
        # An hour bucket [h, h + 3600) overlaps (now - 24 h, now] when h + 3600 > now - 24 h.
        since = now - 24 * HOUR_S - HOUR_S
        rows = await self._run(
            self._fetch,
            "SELECT u.name, u.fingerprint, u.requests, u.failures, u.first_used_at, "
            "u.last_used_at, COALESCE((SELECT SUM(h.requests) FROM upstream_usage_hourly h "
            "WHERE h.name = u.name AND h.hour > ? AND h.hour <= ?), 0) "
            "FROM upstream_usage u ORDER BY u.name",
            (since, now),
        )
        return [UpstreamKeyUsage.from_row(row) for row in rows]
