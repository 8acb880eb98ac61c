"""Exact 15-minute roll-ups of the usage ledger: the arithmetic both stores share.

Every batch written to ``usage`` is also added, in the same transaction, to
``usage_rollup``: one row per 15-minute bucket and (team, environment, purpose,
client key, model, refusal, status), holding integer sums. A bucket ``b`` holds
exactly the records with ``900*b <= ts < 900*(b+1)`` (the bucket is computed
from the integer part of ``ts``, so no float rounding moves a record), so a
range made of whole buckets is answered from the roll-up alone, and the
partial buckets at its ends from the raw rows: the sums are exact, and a
month of ten million records is a few hundred thousand roll-up rows at most.

Every timezone's midnight falls on a multiple of 15 minutes (today's zones; an
odd historical offset makes a summary by ``day`` read raw rows only), so days,
weeks and months in the organization's timezone are whole buckets.

The roll-up holds no end users nor tags (their values are unbounded: they would
make it as large as the ledger): a summary grouped by ``user`` or ``tag:KEY``
reads the raw rows of its range.

The SQL lives with each store (``ledger/sqlite/summary.py``,
``ledger/postgres/summary.py``); what is decided here is the same for both:
which buckets a batch adds to (:func:`bucket_sums`) and which part of a range
is read from where (:func:`plan_summary`).

>>> plan = plan_summary(1000.0, 10_000.5, ("team",), [])
>>> (plan.first, plan.stop), plan.raw_ranges
((2, 11), [(1000.0, 1800), (9900, 10000.5)])
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import SupportsInt, cast
from zoneinfo import ZoneInfo

from teamgate.ledger.attribution import is_attribution_dimension
from teamgate.ledger.records import UsageRecord
from teamgate.ledger.summary import UsageGroup

BUCKET_S = 900
# The roll-up's key and sums, in column order (both stores' ``usage_rollup``).
ROLLUP_KEY = (
    "bucket",
    "team",
    "environment",
    "purpose",
    "client_key",
    "model",
    "refusal",
    "status",
)
ROLLUP_SUMS = ("requests", "prompt_tokens", "completion_tokens", "cached_tokens", "cost_pusd")
ROLLUP_COLUMNS = ROLLUP_KEY + ROLLUP_SUMS

RollupKey = tuple[int, str, str, str, str, str, str, int]
Runs = list[tuple[float, int]]  # a timezone's UTC offsets over a range (offset_runs)


def bucket_sums(records: Iterable[UsageRecord]) -> list[tuple[int | str, ...]]:
    """The roll-up rows a batch adds (key then sums, :data:`ROLLUP_COLUMNS` order), sorted
    by key: every writer upserts in one order, so two writers never deadlock.

    >>> from teamgate.ledger.records import UsageRecord
    >>> r = UsageRecord(1800.5, "r", "", "t", "e", "p", "k", "u", "fast", "", 3, 2, 0, 7,
    ...                 429, 1.0, False, "none", refusal="budget")
    >>> bucket_sums([r, r])
    [(2, 't', 'e', 'p', 'k', 'fast', 'budget', 429, 2, 6, 4, 0, 14)]
    """
    sums: dict[RollupKey, list[int]] = {}
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
    return [(*key, *sums[key]) for key in sorted(sums)]


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

    >>> offset_runs(1_793_491_200.0, 1_793_491_200.0 + 86400, "America/New_York")
    [(1793491200.0, -14400), (1793512800.0, -18000)]
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


@dataclass(frozen=True, slots=True)
class SummaryPlan:
    """Where a summary over [start, end) reads: buckets ``first <= b < stop`` from the
    roll-up (none when ``first == stop``), each of ``raw_ranges`` from the raw rows."""

    first: int
    stop: int
    raw_ranges: list[tuple[float, float]]

    @property
    def uses_rollup(self) -> bool:
        return self.first < self.stop


def plan_summary(
    start: float, end: float, dims: Sequence[str], runs: Sequence[tuple[float, int]]
) -> SummaryPlan:
    """Whole buckets from the roll-up, the partial end buckets from raw rows.

    ``runs`` are the timezone's offsets (:func:`offset_runs`) over the records of the
    range when grouping by ``day`` (else empty). Everything is read raw when a local
    day would split a bucket (an odd offset) or when grouping by ``user`` or ``tag:KEY``.
    """
    first = -(-math.ceil(start) // BUCKET_S)  # first whole bucket inside the range
    stop = max(first, math.floor(end) // BUCKET_S)  # one past the last whole bucket
    odd = any(offset % BUCKET_S or (i and ts % BUCKET_S) for i, (ts, offset) in enumerate(runs))
    if odd or any(is_attribution_dimension(dim) for dim in dims) or first == stop:
        return SummaryPlan(first, first, [(start, end)] if start < end else [])
    raw = [(lo, hi) for lo, hi in ((start, first * BUCKET_S), (stop * BUCKET_S, end)) if lo < hi]
    return SummaryPlan(first, stop, raw)


def groups_from_rows(rows: Iterable[Sequence[object]], dims: Sequence[str]) -> list[UsageGroup]:
    """:class:`UsageGroup` s from summary rows: the group values, then the seven sums
    (requests, refusals, errors, prompt, completion and cached tokens, cost); a row
    of no requests (no dimensions, no records) is no group."""
    out: list[UsageGroup] = []
    width = len(dims)
    for row in rows:
        if not row[width]:
            continue
        values = dict(zip(dims, (str(v) for v in row[:width]), strict=True))
        n, refused, failed, pt, ct, cached, cost = (int(cast(SupportsInt, v)) for v in row[width:])
        out.append(UsageGroup(values, n, refused, failed, pt, ct, cached, cost))
    return out
