"""PostgreSQL ledger before and after the 15-minute roll-ups (migration 0010), in one run.

    PYTHONPATH=src .venv/bin/python bench/pg_rollup.py --records 1000000

Needs the PostgreSQL of the test suite (``TEAMGATE_TEST_POSTGRES_URL``, default
``postgresql://postgres@127.0.0.1:5432/test``); works in a schema of its own, dropped
at the end. It fills ``usage`` with N records over November 2026 (24 client keys of 8
teams, two models, some refusals and errors) by SQL, fills the roll-up from them as
migration 0010 does, ``VACUUM ANALYZE`` s both, then measures, alternating the two
strategies round by round so both see the same machine:

* ``usage_summary`` latency over the month so far (partial first and last buckets),
  grouped by team and by day (Europe/Paris) and team: *before* is the raw-row plan
  (every row of the range read through ``usage_ts_report``, as the store did up to
  schema 9), *after* the store's plan (whole buckets from ``usage_rollup``); the two
  answers are checked equal;
* writer throughput, records/s for batches of 500 records (the ledger writer's
  ``COPY``): *before* the ``COPY`` alone, *after* ``append_usage`` (the ``COPY`` and
  the batch's bucket-sum upsert in one transaction).

It prints medians and the ratios after/before.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg  # type: ignore[import-untyped]

from teamgate.ledger.postgres.store import PostgresStore
from teamgate.ledger.postgres.summary import summary_query
from teamgate.ledger.records import UsageRecord
from teamgate.ledger.rollup import SummaryPlan, groups_from_rows
from teamgate.ledger.sql import POSTGRES, ROLLUP_COLUMNS, ROLLUP_OF_USAGE, USAGE_COLUMNS, usage_row

POSTGRES_URL = os.environ.get(
    "TEAMGATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
NOV_1 = 1793491200  # 2026-11-01 00:00 UTC
MONTH_S = 30 * 86400

FILL = """
INSERT INTO usage (ts, request_id, groq_id, team, environment, purpose, client_key,
    upstream_key, model_requested, model_served, prompt_tokens, completion_tokens,
    cached_tokens, cost_pusd, status, latency_ms, streamed, usage_source, endpoint, refusal,
    end_user, tags)
SELECT $1 + (i * $2::float8) / $3 + 0.5, 'req_' || i, 'g_' || i,
    'team-' || (i % 24) % 8, CASE WHEN (i % 24) % 3 = 0 THEN 'staging' ELSE 'prod' END, 'web',
    'team-' || (i % 24) % 8 || '-k' || i % 24, 'groq-key', 'fast',
    CASE WHEN (i / 7) % 5 = 0 THEN 'llama-3.3-70b-versatile' ELSE 'llama-3.1-8b-instant' END,
    20 + i % 50, 10 + i % 30, 0, (20 + i % 50) * 50000 + (10 + i % 30) * 80000,
    CASE WHEN i % 97 = 0 THEN 429 WHEN i % 211 = 0 THEN 500 ELSE 200 END,
    150.0, i % 2 = 0, 'reported', 'chat.completions',
    CASE WHEN i % 97 = 0 THEN 'rate_limit' ELSE '' END,
    CASE WHEN i % 10 = 0 THEN '' ELSE 'user-' || i % 5000 END, ''
FROM generate_series(0, $3 - 1) AS i
"""


def batch(rng: random.Random, at: float, size: int) -> list[UsageRecord]:
    """One flush interval's records (all within a second of ``at``)."""
    out = []
    for n in range(size):
        k = rng.randrange(24)
        team = f"team-{k % 8}"
        out.append(
            UsageRecord(
                at + rng.random(), f"w{at}-{n}", "", team, "prod", "web", f"{team}-k{k}",
                "groq-key", "fast", rng.choice(("llama-3.1-8b-instant", "llama-3.3-70b-versatile")),
                40, 20, 0, 40 * 50000 + 20 * 80000, 200, 150.0, False, "reported",
            )
        )  # fmt: skip
    return out


async def timed(fn: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await fn()
    return time.perf_counter() - started


async def admin(statement: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def main(records: int, rounds: int) -> None:
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    await admin(f'CREATE SCHEMA "{schema}"')
    store = PostgresStore(POSTGRES_URL, schema=schema, max_size=2, command_timeout_s=600)
    try:
        await store.migrate()
        await store.open()
        pool = store._db()
        started = time.perf_counter()
        await pool.execute(FILL, NOV_1, MONTH_S, records)
        backfill = POSTGRES.render(ROLLUP_OF_USAGE.format(bucket="trunc(ts)::BIGINT / 900"))
        await pool.execute(f"INSERT INTO usage_rollup ({', '.join(ROLLUP_COLUMNS)}) {backfill}")
        await pool.execute("VACUUM ANALYZE usage")
        await pool.execute("VACUUM ANALYZE usage_rollup")
        rolled = await pool.fetchval("SELECT count(*) FROM usage_rollup")
        print(
            f"{records:,} records, {rolled:,} roll-up rows "
            f"({records / rolled:.1f} records per row), "
            f"built in {time.perf_counter() - started:.0f} s"
        )

        # --- usage_summary over the month so far -------------------------------------------
        start, end = NOV_1 + 450.0, NOV_1 + 29 * 86400 + 47_000.5  # partial first/last bucket
        for dims, tz in ((("team",), "UTC"), (("day", "team"), "Europe/Paris")):
            raw_plan = SummaryPlan(0, 0, [(start, end)])
            query, params = summary_query(dims, tz, None, raw_plan)

            async def before(query: str = query, params: list[object] = params) -> object:
                return await pool.fetch(query, *params)

            async def after(dims: tuple[str, ...] = dims, tz: str = tz) -> object:
                return await store.usage_summary(start, end, dims, tz=tz)

            raw = groups_from_rows(await pool.fetch(query, *params), dims)
            assert raw == await store.usage_summary(start, end, dims, tz=tz), "answers differ"
            b_times, a_times = [], []
            for _ in range(rounds):
                b_times.append(await timed(before))
                a_times.append(await timed(after))
            b, a = statistics.median(b_times), statistics.median(a_times)
            print(
                f"usage_summary by {'+'.join(dims):9} ({len(raw)} groups): "
                f"raw rows {b * 1000:7.1f} ms, "
                f"roll-up {a * 1000:6.1f} ms: {b / a:5.1f}x faster (latency ratio {a / b:.3f})"
            )

        # --- writer throughput: batches of 500 ---------------------------------------------
        rng = random.Random(1)
        clock = float(NOV_1 + 29 * 86400)
        b_rates, a_rates = [], []
        per_round, size = 20, 500

        async def copy_only(records: list[UsageRecord]) -> None:
            async with pool.acquire() as conn:
                await conn.copy_records_to_table(
                    "usage", records=[usage_row(r) for r in records], columns=USAGE_COLUMNS,
                    schema_name=schema,
                )  # fmt: skip

        for _ in range(rounds):
            for write, rates in ((copy_only, b_rates), (store.append_usage, a_rates)):
                batches = []
                for _ in range(per_round):
                    clock += 0.1
                    batches.append(batch(rng, clock, size))
                started = time.perf_counter()
                for one in batches:
                    await write(one)
                rates.append(per_round * size / (time.perf_counter() - started))
        b, a = statistics.median(b_rates), statistics.median(a_rates)
        print(
            f"writer, batches of {size}: COPY only {b:,.0f} records/s, COPY + roll-up "
            f"{a:,.0f} records/s: throughput ratio {a / b:.2f}"
        )
    finally:
        await store.close()
        await admin(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(main(args.records, args.rounds))
