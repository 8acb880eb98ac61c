"""Grouped usage sums, paging and counting for the PostgreSQL store.

A mixin: the methods use the store's asyncpg pool through its ``_db``. Sums are
a plain ``GROUP BY`` over the ``usage`` rows in the range, read through the
covering index ``usage_ts_report`` (migration ``0004_usage_reports.sql``), so
no record is loaded into Python and every sum is exact (``SUM`` of ``BIGINT``
is ``NUMERIC`` in PostgreSQL). ``day`` is the calendar day in the requested
timezone, DST included: ``to_char(to_timestamp(ts) AT TIME ZONE tz, 'YYYY-MM-DD')``.
Groups come back sorted by their values as strings (``COLLATE "C"``: code points),
as the SQLite store sorts them.

Usage (through the store)::

    store = PostgresStore("postgresql://teamgate@db/teamgate")
    await store.open()
    groups = await store.usage_summary(start, end, ("day", "team"), tz="Europe/Paris")
    page, cursor = await store.usage_page(start, end)   # then usage_page(start, end, cursor)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, cast
from zoneinfo import ZoneInfo

from teamgate.ledger.attribution import TAG_PREFIX
from teamgate.ledger.records import UsageRecord, UsageSource
from teamgate.ledger.summary import UsageGroup, check_dimensions

_USAGE_COLUMNS = tuple(f.name for f in dataclasses.fields(UsageRecord))

# The SQL of each dimension (constants; the timezone is a parameter, ``{tz}``).
_DIMENSION_SQL = {
    "team": "team",
    "environment": "environment",
    "purpose": "purpose",
    "key": "client_key",
    "model": "CASE WHEN model_served <> '' THEN model_served ELSE model_requested END",
    "day": "to_char(to_timestamp(ts) AT TIME ZONE {tz}, 'YYYY-MM-DD')",
    "refusal": "refusal",
    "status": "status::text",
    "user": "end_user",
}
# ``tag:KEY``: the value after ",KEY=" in the canonical tags ("" if absent); the pattern
# ``,KEY=([^,]*),`` is a parameter (``{pattern}``). Keys are [a-z0-9_-]: no regex syntax.
_TAG_SQL = "COALESCE(substring(',' || tags || ',' from {pattern}), '')"
_SUMS = (
    "COUNT(*), COUNT(*) FILTER (WHERE refusal <> ''), "
    "COUNT(*) FILTER (WHERE refusal = '' AND status >= 400), "
    "SUM(prompt_tokens), SUM(completion_tokens), SUM(cached_tokens), SUM(cost_pusd)"
)
# SQL built from the dataclass's own field names only (constants, no input).
_SELECT_PAGE = (
    f"SELECT id, {', '.join(_USAGE_COLUMNS)} FROM usage "  # noqa: S608
    "WHERE id > $1 AND ts >= $2 AND ts < $3 ORDER BY id LIMIT $4"
)


def summary_query(dims: Sequence[str], tz: str, team: str | None) -> tuple[str, list[object]]:
    """The grouped query over ``usage`` (``$1``/``$2`` are start/end) and its extra parameters.

    >>> sql, params = summary_query(("team",), "UTC", None)
    >>> sql.split(" FROM ")[0][:35], params
    ('SELECT team COLLATE "C" AS g0, COUN', [])
    """
    params: list[object] = []
    where = "ts >= $1 AND ts < $2"
    if team is not None:
        params.append(team)
        where += f" AND team = ${len(params) + 2}"
    tz_ref = ""
    if "day" in dims:
        params.append(tz)
        tz_ref = f"${len(params) + 2}::text"
    exprs = []
    for dim in dims:
        if dim.startswith(TAG_PREFIX):
            params.append(f",{dim[len(TAG_PREFIX) :]}=([^,]*),")
            exprs.append(_TAG_SQL.format(pattern=f"${len(params) + 2}::text"))
        else:
            exprs.append(_DIMENSION_SQL[dim].format(tz=tz_ref))
    cols = "".join(f'{expr} COLLATE "C" AS g{i}, ' for i, expr in enumerate(exprs))
    sql = f"SELECT {cols}{_SUMS} FROM usage WHERE {where}"  # noqa: S608 - constants only
    if dims:
        positions = ", ".join(str(i + 1) for i in range(len(dims)))
        sql += f" GROUP BY {positions} ORDER BY {positions}"
    return sql, params


class PostgresSummaryQueries:
    """The reporting part of the PostgreSQL store (mixed into ``PostgresStore``)."""

    # Provided by PostgresStore: the open asyncpg pool.
    _db: Callable[[], Any]

    async def usage_summary(
        self,
        start: float,
        end: float,
        group_by: Sequence[str] = (),
        *,
        tz: str = "UTC",
        team: str | None = None,
    ) -> list[UsageGroup]:
        """Sums per group in [start, end), grouped and summed by PostgreSQL."""
        dims = check_dimensions(list(group_by))
        if "day" in dims:
            ZoneInfo(tz)  # an unknown zone fails here, as with the SQLite store
        sql, params = summary_query(dims, tz, team)
        rows = await self._db().fetch(sql, start, end, *params)
        width = len(dims)
        out: list[UsageGroup] = []
        for row in rows:
            if not row[width]:
                continue  # no dimensions and no records: COUNT(*) = 0, no group
            values = dict(zip(dims, (str(v) for v in row[:width]), strict=True))
            n, refused, failed, pt, ct, cached, cost = (int(v) for v in row[width:])
            out.append(UsageGroup(values, n, refused, failed, pt, ct, cached, cost))
        return out

    async def usage_page(
        self, start: float, end: float, after: int = 0, limit: int = 10_000
    ) -> tuple[list[UsageRecord], int]:
        """Up to ``limit`` records in [start, end) in insertion (``id``) order after cursor
        ``after``; returns them and the cursor of the next page."""
        rows = await self._db().fetch(_SELECT_PAGE, after, start, end, limit)
        if not rows:
            return [], after
        records = []
        for row in rows:
            values = dict(zip(_USAGE_COLUMNS, tuple(row)[1:], strict=True))
            values["usage_source"] = cast(UsageSource, values["usage_source"])
            records.append(UsageRecord(**values))
        return records, int(rows[-1][0])

    async def count_usage(self, start: float, end: float) -> int:
        value = await self._db().fetchval(
            "SELECT COUNT(*) FROM usage WHERE ts >= $1 AND ts < $2", start, end
        )
        return int(value)
