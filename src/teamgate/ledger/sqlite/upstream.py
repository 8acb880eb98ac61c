"""Upstream key state and usage for :class:`~teamgate.ledger.sqlite.store.SQLiteStore`.

A mixin: the methods run on the store's single writer thread through its
``_run`` and use its connection through ``_db``. Two tables (``ledger/sqlite/schema.py``):
``upstream_usage`` (totals per key) and ``upstream_usage_hourly`` (hourly buckets
for the last-24-hours count, pruned after 48 hours). Key states (``upstream_keys``)
are shared SQL (``ledger/queries.py``).

>>> import asyncio
>>> from teamgate.ledger.sqlite.store import SQLiteStore
>>> from teamgate.ledger.upstream_records import UpstreamKeyState
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

import sqlite3
from collections.abc import Callable
from typing import Any

from teamgate.ledger.sql import KEEP_HOURS_S, PRUNE_HOURLY, SQLITE
from teamgate.ledger.sqlite.transaction import immediate
from teamgate.ledger.upstream_records import UpstreamUsageDelta


class SQLiteUpstreamTables:
    """The upstream-key part of the SQLite store (mixed into ``SQLiteStore``)."""

    # Provided by SQLiteStore.
    _run: Callable[..., Any]
    _db: Callable[[], sqlite3.Connection]

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
            conn.execute(SQLITE.render(PRUNE_HOURLY), (newest - KEEP_HOURS_S,))
