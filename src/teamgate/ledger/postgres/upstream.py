"""Upstream key state and usage for :class:`~teamgate.ledger.postgres.store.PostgresStore`.

A mixin: the methods use the store's asyncpg pool through its ``_db``. The
tables (migration ``0003_upstream_keys.sql``) are those of the SQLite store:
``upstream_keys`` (state changes and keys added by rotation, with secret
references only), ``upstream_usage`` (totals per key) and
``upstream_usage_hourly`` (hourly buckets for the last-24-hours count, pruned
after 48 hours). Every write is one transaction; a state write bumps
``meta.upstream_version``, which every gateway polls.

Usage (through the store)::

    store = PostgresStore("postgresql://teamgate@db/teamgate")
    await store.open()
    await store.set_upstream_key_states(
        [UpstreamKeyState("p-2026-05", "p", "active", "env:K", 0, time.time())]
    )
    version = await store.upstream_state_version()
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from teamgate.ledger.upstream_records import UpstreamKeyState, UpstreamKeyUsage, UpstreamUsageDelta

HOUR_S = 3600
KEEP_HOURS_S = 48 * HOUR_S

_STATE_COLUMNS = tuple(f.name for f in dataclasses.fields(UpstreamKeyState))
# SQL built from the dataclass's own field names only (constants, no input).
_UPSERT_STATE = (
    f"INSERT INTO upstream_keys ({', '.join(_STATE_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(f'${i + 1}' for i in range(len(_STATE_COLUMNS)))}) "
    "ON CONFLICT (name) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in _STATE_COLUMNS if c != "name")
)
_SELECT_STATES = (
    f"SELECT {', '.join(_STATE_COLUMNS)} FROM upstream_keys "  # noqa: S608
    'ORDER BY project COLLATE "C", preferred_order, name COLLATE "C"'
)
_BUMP_UPSTREAM_VERSION = "UPDATE meta SET value = value + 1 WHERE key = 'upstream_version'"
_ADD_USAGE = (
    "INSERT INTO upstream_usage "
    "(name, fingerprint, requests, failures, first_used_at, last_used_at) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[], "
    "$5::float8[], $6::float8[]) "
    "ON CONFLICT (name) DO UPDATE SET "
    "fingerprint = CASE WHEN EXCLUDED.fingerprint = '' "
    "THEN upstream_usage.fingerprint ELSE EXCLUDED.fingerprint END, "
    "requests = upstream_usage.requests + EXCLUDED.requests, "
    "failures = upstream_usage.failures + EXCLUDED.failures, "
    "first_used_at = LEAST(upstream_usage.first_used_at, EXCLUDED.first_used_at), "
    "last_used_at = GREATEST(upstream_usage.last_used_at, EXCLUDED.last_used_at)"
)
_ADD_HOURLY = (
    "INSERT INTO upstream_usage_hourly (name, hour, requests) "
    "SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[]) "
    "ON CONFLICT (name, hour) DO UPDATE SET "
    "requests = upstream_usage_hourly.requests + EXCLUDED.requests"
)
# An hour bucket [h, h + 3600) overlaps (now - 24 h, now] when h + 3600 > now - 24 h.
_SELECT_USAGE = (
    "SELECT u.name, u.fingerprint, u.requests, u.failures, u.first_used_at, "
    "u.last_used_at, COALESCE((SELECT SUM(h.requests) FROM upstream_usage_hourly h "
    "WHERE h.name = u.name AND h.hour > $1::float8 AND h.hour <= $2::float8), 0) "
    'FROM upstream_usage u ORDER BY u.name COLLATE "C"'
)


class PostgresUpstreamTables:
    """The upstream-key part of the PostgreSQL store (mixed into ``PostgresStore``)."""

    # Provided by PostgresStore: the open asyncpg pool.
    _db: Callable[[], Any]

    async def set_upstream_key_states(self, states: Sequence[UpstreamKeyState]) -> None:
        if not states:
            return
        async with self._db().acquire() as conn, conn.transaction():
            # One statement per state, in order: a name given twice ends as its last state.
            await conn.executemany(_UPSERT_STATE, [dataclasses.astuple(s) for s in states])
            await conn.execute(_BUMP_UPSTREAM_VERSION)

    async def upstream_key_states(self) -> list[UpstreamKeyState]:
        rows = await self._db().fetch(_SELECT_STATES)
        return [UpstreamKeyState(*row) for row in rows]

    async def upstream_state_version(self) -> int:
        value = await self._db().fetchval("SELECT value FROM meta WHERE key = 'upstream_version'")
        return int(value)

    async def record_upstream_usage(self, usage: dict[str, UpstreamUsageDelta]) -> None:
        if not usage:
            return
        names = sorted(usage)  # one lock order for every writer: no deadlocks between gateways
        deltas = [usage[name] for name in names]
        hourly = [
            (name, int(hour), n)
            for name in names
            for hour, n in sorted(usage[name].by_hour.items())
        ]
        newest = max(d.last_used_at for d in deltas)
        async with self._db().acquire() as conn, conn.transaction():
            await conn.execute(
                _ADD_USAGE,
                names,
                [d.fingerprint for d in deltas],
                [d.requests for d in deltas],
                [d.failures for d in deltas],
                [d.first_used_at for d in deltas],
                [d.last_used_at for d in deltas],
            )
            if hourly:
                await conn.execute(
                    _ADD_HOURLY,
                    [h[0] for h in hourly],
                    [h[1] for h in hourly],
                    [h[2] for h in hourly],
                )
            await conn.execute(
                "DELETE FROM upstream_usage_hourly WHERE hour < $1::float8",
                newest - KEEP_HOURS_S,
            )

    async def upstream_key_usage(self, now: float) -> list[UpstreamKeyUsage]:
        since = now - 24 * HOUR_S - HOUR_S
        rows = await self._db().fetch(_SELECT_USAGE, since, now)
        return [UpstreamKeyUsage.from_row(row) for row in rows]
