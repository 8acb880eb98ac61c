"""Exact 15-minute roll-ups of the SQLite usage ledger, and the grouped queries over them.

Every batch written to ``usage`` is also added, in the same transaction, to
``usage_rollup``: one row per 15-minute bucket and (team, environment, purpose,
client key, model, refusal, status), holding integer sums. A bucket ``b`` holds
exactly the records with ``900*b <= ts < 900*(b+1)`` (the bucket is computed
from the integer part of ``ts``, so no float rounding moves a record), so a
range made of whole buckets is answered from the roll-up alone, and the
partial buckets at its ends from the raw rows: the sums are exact, and a
month of ten million records is a few hundred thousand roll-up rows at most.

Every timezone's midnight falls on a multiple of 15 minutes, so days, weeks
and months in the organization's timezone are whole buckets.

The roll-up holds no end users nor tags (their values are unbounded: they would
make it as large as the ledger): a summary grouped by ``user`` or ``tag:KEY``
reads the raw rows of its range (through the ``usage_ts`` index).

These are synchronous functions on a :class:`sqlite3.Connection`, called on the
store's own thread by :class:`~teamgate.ledger.sqlite.store.SQLiteStore`.
"""

from __future__ import annotations

import itertools
import math
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from teamgate.ledger.attribution import TAG_PREFIX, USER_DIMENSION, is_attribution_dimension
from teamgate.ledger.records import UsageRecord
from teamgate.ledger.summary import UsageGroup, check_dimensions

BUCKET_S = 900
ROLLUP_VERSION = 1

ROLLUP_SCHEMA = """
CREATE TABLE IF NOT EXISTS usage_rollup (
    bucket INTEGER NOT NULL,
    team TEXT NOT NULL,
    environment TEXT NOT NULL,
    purpose TEXT NOT NULL,
    client_key TEXT NOT NULL,
    model TEXT NOT NULL,
    refusal TEXT NOT NULL,
    status INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL,
    cost_pusd INTEGER NOT NULL,
    PRIMARY KEY (bucket, team, environment, purpose, client_key, model, refusal, status)
) WITHOUT ROWID
"""

_RAW_MODEL = "CASE WHEN model_served != '' THEN model_served ELSE model_requested END"
_RAW_BUCKET = f"(CAST(ts AS INTEGER) / {BUCKET_S})"

_UPSERT = """
INSERT INTO usage_rollup (bucket, team, environment, purpose, client_key, model, refusal,
    status, requests, prompt_tokens, completion_tokens, cached_tokens, cost_pusd)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (bucket, team, environment, purpose, client_key, model, refusal, status)
DO UPDATE SET requests = requests + excluded.requests,
    prompt_tokens = prompt_tokens + excluded.prompt_tokens,
    completion_tokens = completion_tokens + excluded.completion_tokens,
    cached_tokens = cached_tokens + excluded.cached_tokens,
    cost_pusd = cost_pusd + excluded.cost_pusd
"""

_BACKFILL = f"""
INSERT INTO usage_rollup (bucket, team, environment, purpose, client_key, model, refusal,
    status, requests, prompt_tokens, completion_tokens, cached_tokens, cost_pusd)
SELECT {_RAW_BUCKET}, team, environment, purpose, client_key, {_RAW_MODEL}, refusal, status,
    COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cached_tokens), SUM(cost_pusd)
FROM usage GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
"""  # noqa: S608 - constants only


def ensure_rollup(conn: sqlite3.Connection) -> None:
    """Create the roll-up table; fill it from existing rows the first time (in a transaction)."""
    conn.execute(ROLLUP_SCHEMA)
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


def add_records(conn: sqlite3.Connection, records: Iterable[UsageRecord]) -> None:
    """Add a batch to the roll-up (call inside the transaction that inserts the records)."""
    sums: dict[tuple[int, str, str, str, str, str, str, int], list[int]] = {}
    for r in records:
        key = (
            int(r.ts) // BUCKET_S,
            r.team,
            r.environment,
            r.purpose,
            r.client_key,
            r.model_served or r.model_requested,
            r.refusal,
            r.status,
        )
        acc = sums.get(key)
        if acc is None:
            sums[key] = [1, r.prompt_tokens, r.completion_tokens, r.cached_tokens, r.cost_pusd]
        else:
            acc[0] += 1
            acc[1] += r.prompt_tokens
            acc[2] += r.completion_tokens
            acc[3] += r.cached_tokens
            acc[4] += r.cost_pusd
    conn.executemany(_UPSERT, [(*k, *v) for k, v in sums.items()])


def day_starts(start: float, end: float, tz: str) -> list[tuple[float, str]]:
    """Local midnights (unix seconds, YYYY-MM-DD) of every day overlapping [start, end)."""
    zone = ZoneInfo(tz)
    day = datetime.fromtimestamp(start, zone).date()
    out: list[tuple[float, str]] = []
    while True:
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()
        if midnight >= end:
            break
        out.append((midnight, day.isoformat()))
        day += timedelta(days=1)
    return out


def _offset_at(ts: float, zone: ZoneInfo) -> int:
    offset = datetime.fromtimestamp(ts, zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def offset_runs(start: float, end: float, tz: str) -> list[tuple[float, int]]:
    """``[(from_ts, utc_offset_s), ...]``: the zone's UTC offset over [start, end), as runs.

    Offsets are sampled once a day and each change is located to the second by
    bisection, so a range of years costs a few hundred steps.
    """
    zone = ZoneInfo(tz)
    runs = [(start, _offset_at(start, zone))]
    t = start
    while t < end:
        nxt = min(t + 86400, end)
        if _offset_at(nxt, zone) != runs[-1][1]:
            lo, hi = int(t), math.ceil(nxt)  # offset(lo) is the old one
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _offset_at(mid, zone) == runs[-1][1]:
                    lo = mid
                else:
                    hi = mid
            runs.append((float(hi), _offset_at(hi, zone)))
        t = nxt
    return runs


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


_PLAIN = {
    "team": "team",
    "environment": "environment",
    "purpose": "purpose",
    "key": "client_key",
    "refusal": "refusal",
    "status": "status",
}


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
) -> tuple[list[str], list[object]]:
    exprs: list[str] = []
    params: list[object] = []
    for dim in dims:
        if dim == "model":
            exprs.append(_RAW_MODEL if raw else "model")
        elif dim == "day":
            expr, expr_params = _day_expr("ts" if raw else f"(bucket * {BUCKET_S})", runs)
            exprs.append(expr)
            params.extend(expr_params)
        elif dim == USER_DIMENSION:
            exprs.append("end_user")
        elif dim.startswith(TAG_PREFIX):
            expr, expr_params = _tag_expr(dim[len(TAG_PREFIX) :])
            exprs.append(expr)
            params.extend(expr_params)
        else:
            exprs.append(_PLAIN[dim])
    return exprs, params


def usage_summary(
    conn: sqlite3.Connection,
    start: float,
    end: float,
    group_by: Sequence[str],
    tz: str = "UTC",
    team: str | None = None,
) -> list[UsageGroup]:
    """Sums per group over the records with ``start <= ts < end``, sorted by group."""
    dims = check_dimensions(list(group_by))
    runs: list[tuple[float, int]] = []
    if "day" in dims:
        lo, hi = conn.execute(
            "SELECT MIN(ts), MAX(ts) FROM usage WHERE ts >= ? AND ts < ?", (start, end)
        ).fetchone()
        if lo is None:
            return []
        runs = offset_runs(lo, hi + 1, tz)  # offsets over the span that holds records
    first = -(-math.ceil(start) // BUCKET_S)  # first whole bucket inside the range
    stop = math.floor(end) // BUCKET_S  # one past the last whole bucket
    if any(offset % BUCKET_S or (i and ts % BUCKET_S) for i, (ts, offset) in enumerate(runs)):
        first = stop  # an odd timezone: days split buckets, read raw rows only
    if any(is_attribution_dimension(dim) for dim in dims):
        first = stop  # not in the roll-up: read raw rows only
    params: list[object] = []
    selects: list[str] = []
    team_filter = " AND team = ?" if team is not None else ""
    aliases = [f"g{i}" for i in range(len(dims))]
    if first < stop:
        exprs, p = _columns(dims, raw=False, runs=runs)
        cols = "".join(f"{e} AS {a}, " for e, a in zip(exprs, aliases, strict=True))
        selects.append(
            f"SELECT {cols}requests AS n, "  # noqa: S608
            "CASE WHEN refusal != '' THEN requests ELSE 0 END AS refused, "
            "CASE WHEN refusal = '' AND status >= 400 THEN requests ELSE 0 END AS failed, "
            "prompt_tokens AS pt, completion_tokens AS ct, cached_tokens AS cached, "
            f"cost_pusd AS cost FROM usage_rollup WHERE bucket >= ? AND bucket < ?{team_filter}"
        )
        params += [*p, first, stop, *([team] if team is not None else [])]
        ranges = [(start, first * BUCKET_S), (stop * BUCKET_S, end)]
    else:
        ranges = [(start, end)]
    for lo, hi in ranges:
        if lo >= hi:
            continue
        exprs, p = _columns(dims, raw=True, runs=runs)
        cols = "".join(f"{e} AS {a}, " for e, a in zip(exprs, aliases, strict=True))
        selects.append(
            f"SELECT {cols}1 AS n, refusal != '' AS refused, "  # noqa: S608
            "(refusal = '' AND status >= 400) AS failed, prompt_tokens AS pt, "
            "completion_tokens AS ct, cached_tokens AS cached, cost_pusd AS cost "
            f"FROM usage WHERE ts >= ? AND ts < ?{team_filter}"
        )
        params += [*p, lo, hi, *([team] if team is not None else [])]
    if not selects:
        return []
    group = f" GROUP BY {', '.join(aliases)} ORDER BY {', '.join(aliases)}" if aliases else ""
    outer = "".join(f"{a}, " for a in aliases)
    sql = (
        f"SELECT {outer}SUM(n), SUM(refused), SUM(failed), SUM(pt), SUM(ct), SUM(cached), "  # noqa: S608
        f"SUM(cost) FROM ({' UNION ALL '.join(selects)}){group}"
    )
    out: list[UsageGroup] = []
    width = len(dims)
    for row in conn.execute(sql, params):
        if row[width] is None or row[width] == 0:
            continue
        values = dict(zip(dims, (str(v) for v in row[:width]), strict=True))
        n, refused, failed, pt, ct, cached, cost = (int(v) for v in row[width:])
        out.append(UsageGroup(values, n, refused, failed, pt, ct, cached, cost))
    return out


def usage_page(
    conn: sqlite3.Connection, start: float, end: float, after_id: int, limit: int, select: str
) -> list[tuple[object, ...]]:
    """Raw rows (``id`` first, then ``select``'s columns) in [start, end) after ``after_id``."""
    return conn.execute(
        f"SELECT id, {select} FROM usage WHERE id > ? AND ts >= ? AND ts < ? "  # noqa: S608
        "ORDER BY id LIMIT ?",
        (after_id, start, end, limit),
    ).fetchall()


def count_usage(conn: sqlite3.Connection, start: float, end: float) -> int:
    """How many records fall in [start, end), from the roll-up where it can."""
    groups = usage_summary(conn, start, end, ())
    return groups[0].requests if groups else 0
