"""Upstream key state and usage for :class:`~teamgate.ledger.postgres.store.PostgresStore`.

A mixin: the methods use the store's asyncpg pool through its ``_db``. The
tables (migration ``0003_upstream_keys.sql``) are those of the SQLite store:
``upstream_usage`` (totals per key) and ``upstream_usage_hourly`` (hourly buckets
for the last-24-hours count, pruned after 48 hours), written here with arrays
(``unnest``) in one transaction; key states and the reads are shared SQL
(``ledger/queries.py``): a state write bumps ``meta.upstream_version``, which
every gateway polls.

Usage (through the store)::

    store = PostgresStore("postgresql://teamgate@db/teamgate")
    await store.open()
    await store.set_upstream_key_states(
        [UpstreamKeyState("p-2026-05", "p", "active", "env:K", 0, time.time())]
    )
    version = await store.upstream_state_version()
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from teamgate.ledger.sql import KEEP_HOURS_S, POSTGRES, PRUNE_HOURLY
from teamgate.ledger.upstream_records import UpstreamUsageDelta

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


class PostgresUpstreamTables:
    """The upstream-usage part of the PostgreSQL store (mixed into ``PostgresStore``)."""

    # Provided by PostgresStore: the open asyncpg pool.
    _db: Callable[[], Any]

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
            await conn.execute(POSTGRES.render(PRUNE_HOURLY), newest - KEEP_HOURS_S)
