"""Grouped usage sums for the PostgreSQL store, over exact roll-ups (ledger/rollup.py).

A mixin: the methods use the store's asyncpg pool through its ``_db``. As in the
SQLite store, a range's whole 15-minute buckets are read from ``usage_rollup``
(migration ``0010_usage_rollup.sql``, kept in the transaction of every batch's
``COPY``) and its partial end buckets from the ``usage`` rows, through the covering
index ``usage_ts_report`` (``0004_usage_reports.sql``); a summary by ``user`` or
``tag:KEY`` reads raw rows only. Sums are exact (``SUM`` of ``BIGINT`` is
``NUMERIC``). ``day`` is the calendar day in the requested timezone, DST included:
``to_char(to_timestamp(ts) AT TIME ZONE tz, 'YYYY-MM-DD')``, of a bucket's start for
roll-up rows. Groups come back sorted by their values as strings (``COLLATE "C"``:
code points), as the SQLite store sorts them.

Usage (through the store)::

    store = PostgresStore("postgresql://teamgate@db/teamgate")
    await store.open()
    groups = await store.usage_summary(start, end, ("day", "team"), tz="Europe/Paris")
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from teamgate.ledger import sql
from teamgate.ledger.attribution import TAG_PREFIX
from teamgate.ledger.rollup import BUCKET_S, Runs, SummaryPlan

_DAY = "to_char(to_timestamp({ts}) AT TIME ZONE {tz}, 'YYYY-MM-DD')"
# ``tag:KEY``: the value after ",KEY=" in the canonical tags ("" if absent); the pattern
# ``,KEY=([^,]*),`` is a parameter. Keys are [a-z0-9_-]: no regex syntax.
_TAG = "COALESCE(substring(',' || tags || ',' from {pattern}), '')"


def summary_query(
    dims: Sequence[str], tz: str, team: str | None, plan: SummaryPlan
) -> tuple[str, list[object]]:
    """The grouped query of ``plan`` (which reads something) and its parameters (``$1``…).

    >>> from teamgate.ledger.rollup import plan_summary
    >>> query, params = summary_query(("team",), "UTC", None, plan_summary(0, 2700.5, (), []))
    >>> query.count("FROM usage_rollup"), query.count("FROM usage WHERE"), params
    (1, 1, [0, 3, 2700, 2700.5])
    """
    params: list[object] = []

    def bind(value: object, cast: str = "") -> str:
        params.append(value)
        return f"${len(params)}{cast}"

    tz_ref = bind(tz, "::text") if "day" in dims else ""
    team_filter = "" if team is None else f" AND team = {bind(team)}"
    tags = {
        d: bind(f",{d[len(TAG_PREFIX) :]}=([^,]*),", "::text")
        for d in dims
        if d.startswith(TAG_PREFIX)
    }

    def columns(raw: bool) -> str:
        exprs = []
        for dim in dims:
            if dim == "day":
                exprs.append(_DAY.format(ts="ts" if raw else f"bucket * {BUCKET_S}", tz=tz_ref))
            elif dim in tags:
                exprs.append(_TAG.format(pattern=tags[dim]))
            else:
                exprs.append((sql.RAW_DIMENSIONS if raw else sql.ROLLUP_DIMENSIONS)[dim])
        return "".join(f'({e})::text COLLATE "C" AS g{i}, ' for i, e in enumerate(exprs))

    selects = []
    if plan.uses_rollup:
        where = f"bucket >= {bind(plan.first)} AND bucket < {bind(plan.stop)}{team_filter}"
        selects.append(
            f"SELECT {columns(False)}{sql.ROLLUP_SUM_TERMS} FROM usage_rollup WHERE {where}"  # noqa: S608
        )
    for lo, hi in plan.raw_ranges:
        where = f"ts >= {bind(lo, '::float8')} AND ts < {bind(hi, '::float8')}{team_filter}"
        selects.append(f"SELECT {columns(True)}{sql.RAW_SUM_TERMS} FROM usage WHERE {where}")  # noqa: S608
    return sql.outer_summary(len(dims), " UNION ALL ".join(selects)), params


class PostgresSummaryQueries:
    """The reporting part of the PostgreSQL store (mixed into ``PostgresStore``)."""

    # Provided by PostgresStore: the open asyncpg pool.
    _db: Callable[[], Any]

    async def _summary_rows(
        self, dims: Sequence[str], plan: SummaryPlan, runs: Runs, tz: str, team: str | None
    ) -> list[Any]:
        query, params = summary_query(dims, tz, team, plan)
        rows: list[Any] = await self._db().fetch(query, *params)
        return rows
