"""Store contract for the 15-minute roll-ups (ledger/rollup.py): the same strategy on
every backend (SQLite file and memory, PostgreSQL).

* the roll-up holds exactly the bucket sums of the records written, batch after batch;
* a summary equals the sums of the records themselves over ranges with partial end
  buckets, grouped by every dimension at once, in timezones with DST changes and odd
  offsets;
* a range of whole buckets is answered from the roll-up: raw rows changed behind the
  store's back inside whole buckets do not change it, rows in a partial bucket do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from teamgate.ledger.rollup import BUCKET_S, ROLLUP_COLUMNS, bucket_sums
from teamgate.ledger.store import Store
from teamgate.ledger.summary import SUMMARY_DIMENSIONS

from .test_summary_contract import T0, expected, sample_records


async def _sql(store: Store, template: str, *params: Any) -> int:
    """Run one statement straight on the store's database (``$n`` placeholders)."""
    changed: int = await store._execute(template, *params)  # type: ignore[attr-defined]
    return changed


async def _rows(store: Store, template: str, *params: Any) -> list[tuple[Any, ...]]:
    rows = await store._fetch(template, *params)  # type: ignore[attr-defined]
    return [tuple(row) for row in rows]


async def test_the_rollup_holds_the_bucket_sums_of_every_batch(store: Store) -> None:
    records = sample_records(900)
    for i in range(0, 900, 125):  # batches that add to rows earlier batches made
        await store.append_usage(records[i : i + 125])
    rows = await _rows(
        store,
        f"SELECT {', '.join(ROLLUP_COLUMNS)} FROM usage_rollup ORDER BY bucket",
    )
    want = bucket_sums(records)
    assert sorted(rows, key=repr) == sorted(want, key=repr)
    assert len(rows) == len(want) < len(records)


# New York's clocks go back inside the records' span (2026-11-01 06:00 UTC); Kathmandu is
# +05:45, Adelaide +10:30 (in summer time), Lord Howe +11 (its summer shift is 30 minutes).
ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Asia/Kathmandu",
    "Australia/Adelaide",
    "Australia/Lord_Howe",
]
SPANS = [
    (T0 - 3000.25, T0 + 3 * 86400 + 1.5),  # both ends inside a bucket
    (T0 + 899.999, T0 + 901.0),  # across one bucket boundary, no whole bucket
    (T0 + 5 * 3600, T0 + 30 * 3600),  # whole buckets only (over New York's change)
]


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize("span", SPANS)
async def test_summary_by_every_dimension_equals_the_records(
    store: Store, tz: str, span: tuple[float, float]
) -> None:
    records = sample_records()
    await store.append_usage(records[:200])
    await store.append_usage(records[200:])
    got = await store.usage_summary(*span, SUMMARY_DIMENSIONS, tz=tz)
    assert got == expected(records, *span, SUMMARY_DIMENSIONS, tz)
    days = await store.usage_summary(*span, ("day",), tz=tz)
    assert days == expected(records, *span, ("day",), tz)


async def test_a_dst_day_has_23_or_25_hours_of_records(store: Store) -> None:
    """New York's 2026-11-01 is 25 hours long: its day group holds them all."""
    zone = ZoneInfo("America/New_York")
    start = datetime(2026, 11, 1, tzinfo=zone).timestamp()
    end = datetime(2026, 11, 2, tzinfo=zone).timestamp()
    assert end - start == 25 * 3600
    records = sample_records()
    await store.append_usage(records)
    (day,) = await store.usage_summary(start, end, ("day",), tz="America/New_York")
    assert day["day"] == "2026-11-01"
    assert day.requests == sum(start <= r.ts < end for r in records)


async def test_whole_buckets_are_read_from_the_rollup_and_partial_ones_raw(store: Store) -> None:
    records = sample_records()
    await store.append_usage(records)
    first = int(T0) // BUCKET_S + 4  # a range: 10 whole buckets and a partial one each side
    start, end = first * BUCKET_S - 100.5, (first + 10) * BUCKET_S + 200.25
    before = await store.usage_summary(start, end, ("team", "model"))
    assert before == expected(records, start, end, ("team", "model"))
    # Behind the store's back: raw rows inside the whole buckets cost 1 pico more...
    whole = (first * BUCKET_S, (first + 10) * BUCKET_S)
    bump = "UPDATE usage SET cost_pusd = cost_pusd + 1 WHERE ts >= $1 AND ts < $2"
    assert await _sql(store, bump, *whole) > 0
    assert await store.usage_summary(start, end, ("team", "model")) == before  # the roll-up's
    # ...while those in the partial end bucket are read raw, so they count at once.
    inside_end = [r for r in records if whole[1] <= r.ts < end]
    assert inside_end and await _sql(store, bump, whole[1], end) == len(inside_end)
    after = await store.usage_summary(start, end)
    assert after[0].cost_pusd == sum(g.cost_pusd for g in before) + len(inside_end)
    # Grouped by end user (not in the roll-up) the whole range is read raw: both count.
    in_whole = sum(whole[0] <= r.ts < whole[1] for r in records)
    (by_user,) = await store.usage_summary(start, end, ("user",))
    assert by_user.cost_pusd == after[0].cost_pusd + in_whole
