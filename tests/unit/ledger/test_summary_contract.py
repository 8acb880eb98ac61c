"""Store contract for grouped sums (``usage_summary``), paging and counting.

The sums are checked against sums computed here from the records themselves,
over ranges that cut roll-up buckets in the middle and over whole days in
timezones with half- and quarter-hour offsets.
"""

from __future__ import annotations

import random
import sqlite3
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from teamgate.ledger.records import UsageRecord
from teamgate.ledger.sqlite.store import SQLiteStore
from teamgate.ledger.store import Store
from teamgate.ledger.summary import UsageGroup
from tests.support.ledger_records import make_record

T0 = 1_793_491_200.0  # 2026-11-01 00:00 UTC
TEAMS = ("chatbot", "analytics", "research")
MODELS = ("llama-3.1-8b-instant", "llama-3.3-70b-versatile")


def sample_records(n: int = 600, seed: int = 7) -> list[UsageRecord]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        refused = rng.random() < 0.15
        prompt, completion = rng.randrange(1, 5000), rng.randrange(0, 2000)
        out.append(
            make_record(
                ts=T0 + rng.uniform(0, 3 * 86400) + (0.999 if i % 50 == 0 else 0.0),
                request_id=f"req-{i}",
                team=rng.choice(TEAMS),
                environment=rng.choice(("prod", "staging")),
                purpose=rng.choice(("web", "batch")),
                client_key=f"key-{rng.randrange(4)}",
                model_served="" if refused else rng.choice(MODELS),
                model_requested="asked-" + rng.choice("ab") if refused else "x",
                prompt_tokens=0 if refused else prompt,
                completion_tokens=0 if refused else completion,
                cached_tokens=0,
                cost_pusd=0 if refused else prompt * 590_000 + completion * 790_000,
                status=rng.choice((429, 403)) if refused else rng.choice((200, 200, 200, 500)),
                refusal=rng.choice(("budget", "rate_limit")) if refused else "",
            )
        )
    return out


def expected(
    records: list[UsageRecord], start: float, end: float, dims: tuple[str, ...], tz: str = "UTC"
) -> list[UsageGroup]:
    def value(r: UsageRecord, dim: str) -> str:
        return {
            "team": r.team,
            "environment": r.environment,
            "purpose": r.purpose,
            "model": r.model_served or r.model_requested,
            "key": r.client_key,
            "refusal": r.refusal,
            "status": str(r.status),
            "day": datetime.fromtimestamp(r.ts, ZoneInfo(tz)).date().isoformat(),
        }[dim]

    sums: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0] * 7)
    for r in records:
        if not start <= r.ts < end:
            continue
        acc = sums[tuple(value(r, d) for d in dims)]
        acc[0] += 1
        acc[1] += r.refusal != ""
        acc[2] += r.refusal == "" and r.status >= 400
        acc[3] += r.prompt_tokens
        acc[4] += r.completion_tokens
        acc[5] += r.cached_tokens
        acc[6] += r.cost_pusd
    return [UsageGroup(dict(zip(dims, k, strict=True)), *v) for k, v in sorted(sums.items())]


RANGES = [
    (T0, T0 + 3 * 86400),  # whole buckets only
    (T0 + 1234.5, T0 + 2 * 86400 + 77.25),  # both ends inside a bucket
    (T0 + 100, T0 + 800),  # inside one bucket
    (T0 - 86400, T0 + 10 * 86400),
]


@pytest.mark.parametrize("span", RANGES)
@pytest.mark.parametrize(
    "dims", [(), ("team",), ("team", "model"), ("environment", "purpose", "key"), ("refusal",)]
)
async def test_summary_matches_sums_of_records(
    store: Store, span: tuple[float, float], dims: tuple[str, ...]
) -> None:
    records = sample_records()
    await store.append_usage(records[:300])
    await store.append_usage(records[300:])  # two batches: roll-up rows are added to
    got = await store.usage_summary(span[0], span[1], dims)
    assert got == expected(records, span[0], span[1], dims)


@pytest.mark.parametrize("tz", ["UTC", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu"])
async def test_summary_by_local_day(store: Store, tz: str) -> None:
    records = sample_records()
    await store.append_usage(records)
    start = datetime(2026, 11, 1, tzinfo=ZoneInfo(tz)).timestamp()
    end = datetime(2026, 11, 3, 12, 7, tzinfo=ZoneInfo(tz)).timestamp()
    got = await store.usage_summary(start, end, ("day", "team"), tz=tz)
    assert got == expected(records, start, end, ("day", "team"), tz)
    assert {g["day"] for g in got} <= {"2026-11-01", "2026-11-02", "2026-11-03"}


async def test_summary_for_one_team(store: Store) -> None:
    records = sample_records()
    await store.append_usage(records)
    got = await store.usage_summary(T0 + 5, T0 + 86400 * 2, ("model",), team="analytics")
    mine = [r for r in records if r.team == "analytics"]
    assert got == expected(mine, T0 + 5, T0 + 86400 * 2, ("model",))


async def test_summary_rejects_unknown_dimension(store: Store) -> None:
    with pytest.raises(ValueError, match="colour"):
        await store.usage_summary(T0, T0 + 1, ("colour",))


async def test_empty_range_has_no_groups(store: Store) -> None:
    await store.append_usage(sample_records(20))
    assert await store.usage_summary(T0 - 100, T0 - 50, ("team",)) == []
    assert await store.usage_summary(T0 - 100, T0 - 50) == []
    assert await store.count_usage(T0 - 100, T0 - 50) == 0


async def test_pages_cover_the_range_once_and_count_agrees(store: Store) -> None:
    records = sample_records(250)
    await store.append_usage(records)
    start, end = T0 + 3600.5, T0 + 2 * 86400
    seen: list[UsageRecord] = []
    cursor = 0
    while True:
        page, cursor = await store.usage_page(start, end, cursor, limit=40)
        if not page:
            break
        assert len(page) <= 40
        seen.extend(page)
    inside = [r for r in records if start <= r.ts < end]
    assert seen == inside  # insertion order
    assert await store.count_usage(start, end) == len(inside)


async def test_existing_ledger_is_rolled_up_when_opened(tmp_path: Path) -> None:
    """A database written before the roll-up existed gets it filled on open."""
    path = str(tmp_path / "old.db")
    records = sample_records(200)
    store = SQLiteStore(path)
    await store.open()
    await store.append_usage(records)
    await store.close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE usage_rollup")
    conn.execute("DELETE FROM meta WHERE key = 'rollup_version'")
    conn.commit()
    conn.close()
    store = SQLiteStore(path)
    await store.open()
    try:
        got = await store.usage_summary(T0, T0 + 3 * 86400, ("team", "model"))
        assert got == expected(records, T0, T0 + 3 * 86400, ("team", "model"))
    finally:
        await store.close()
