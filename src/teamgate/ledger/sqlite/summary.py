"""The SQLite ledger's roll-up table and the grouped queries over it (see ledger/rollup.py).

Synchronous functions on a :class:`sqlite3.Connection`, called on the store's own
thread by :class:`~teamgate.ledger.sqlite.store.SQLiteStore`. The bucket arithmetic
and the split of a range between roll-up and raw rows are shared with the
PostgreSQL store (:mod:`teamgate.ledger.rollup`); what is SQLite's own is the SQL:
a local day is ``date(ts + offset, 'unixepoch')`` with the offsets of the range as a
``CASE`` (SQLite knows no timezones).
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Sequence

from teamgate.ledger import sql
from teamgate.ledger.attribution import TAG_PREFIX
from teamgate.ledger.records import UsageRecord
from teamgate.ledger.rollup import BUCKET_S, ROLLUP_COLUMNS, Runs, SummaryPlan, bucket_sums

ROLLUP_VERSION = 1

_UPSERT = sql.SQLITE.render(sql.UPSERT_ROLLUP)
_BACKFILL = f"INSERT INTO usage_rollup ({', '.join(ROLLUP_COLUMNS)}) " + sql.SQLITE.render(
    sql.ROLLUP_OF_USAGE.format(bucket=f"(CAST(ts AS INTEGER) / {BUCKET_S})")
)


def ensure_rollup(conn: sqlite3.Connection) -> None:
    """Create the roll-up table; fill it from existing rows the first time (in a transaction)."""
    conn.execute(sql.sqlite_rollup_table())
    row = conn.execute("SELECT value FROM meta WHERE key = 'rollup_version'").fetchone()
    if row is not None:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("DELETE FROM usage_rollup")
        conn.execute(_BACKFILL)
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('rollup_version', ?)", (ROLLUP_VERSION,)
        )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def add_records(conn: sqlite3.Connection, records: Sequence[UsageRecord]) -> None:
    """Add a batch to the roll-up (call inside the transaction that inserts the records)."""
    conn.executemany(_UPSERT, bucket_sums(records))


def _day_expr(column: str, runs: Sequence[tuple[float, int]]) -> tuple[str, list[object]]:
    """SQL naming the local day (YYYY-MM-DD) of ``column`` (unix seconds), with parameters."""
    if len(runs) == 1:
        return f"date({column} + ?, 'unixepoch')", [runs[0][1]]
    parts: list[str] = ["CASE"]
    params: list[object] = []
    for (_, offset), (nxt, _) in itertools.pairwise(runs):
        parts.append(f"WHEN {column} < ? THEN ?")
        params += [nxt, offset]
    parts.append("ELSE ? END")
    params.append(runs[-1][1])
    return f"date({column} + ({' '.join(parts)}), 'unixepoch')", params


def _tag_expr(key: str) -> tuple[str, list[object]]:
    """SQL naming the value of tag ``key`` in the canonical ``tags`` column ("" if absent)."""
    needle = f",{key}="
    tags = "(',' || tags || ',')"
    rest = f"substr({tags}, instr({tags}, ?) + ?)"  # the text after ",key="
    expr = (
        f"CASE WHEN instr({tags}, ?) = 0 THEN '' ELSE substr({rest}, 1, instr({rest}, ',') - 1) END"
    )
    return expr, [needle, needle, len(needle), needle, len(needle)]


def _columns(
    dims: Sequence[str], *, raw: bool, runs: Sequence[tuple[float, int]]
) -> tuple[str, list[object]]:
    """``expr AS g0, expr AS g1, `` for the select list, and the parameters they take."""
    exprs: list[str] = []
    params: list[object] = []
    for dim in dims:
        if dim == "day":
            expr, expr_params = _day_expr("ts" if raw else f"(bucket * {BUCKET_S})", runs)
        elif dim.startswith(TAG_PREFIX):
            expr, expr_params = _tag_expr(dim[len(TAG_PREFIX) :])
        else:
            expr, expr_params = (sql.RAW_DIMENSIONS if raw else sql.ROLLUP_DIMENSIONS)[dim], []
        exprs.append(expr)
        params.extend(expr_params)
    return "".join(f"{e} AS g{i}, " for i, e in enumerate(exprs)), params


def summary_rows(
    conn: sqlite3.Connection,
    dims: Sequence[str],
    plan: SummaryPlan,
    runs: Runs,
    team: str | None,
) -> list[tuple[object, ...]]:
    """The grouped sums of ``plan`` (:func:`teamgate.ledger.sql.outer_summary` rows)."""
    team_filter, team_params = ("", []) if team is None else (" AND team = ?", [team])
    params: list[object] = []
    selects: list[str] = []
    if plan.uses_rollup:
        cols, p = _columns(dims, raw=False, runs=runs)
        selects.append(
            f"SELECT {cols}{sql.ROLLUP_SUM_TERMS} FROM usage_rollup "  # noqa: S608
            f"WHERE bucket >= ? AND bucket < ?{team_filter}"
        )
        params += [*p, plan.first, plan.stop, *team_params]
    for lo, hi in plan.raw_ranges:
        cols, p = _columns(dims, raw=True, runs=runs)
        selects.append(
            f"SELECT {cols}{sql.RAW_SUM_TERMS} FROM usage "  # noqa: S608
            f"WHERE ts >= ? AND ts < ?{team_filter}"
        )
        params += [*p, lo, hi, *team_params]
    query = sql.outer_summary(len(dims), " UNION ALL ".join(selects))
    return conn.execute(query, params).fetchall()
