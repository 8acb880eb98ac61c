"""Store contract for attribution: every record keeps its end user and tags, and
``usage_summary`` groups by ``user`` and ``tag:KEY`` with sums equal to the records' own.

Runs against every backend (SQLite file and memory, PostgreSQL), over ranges that
cut roll-up buckets (attribution is read from the raw rows, the rest from roll-ups).
"""

from __future__ import annotations

import random
import sqlite3
from collections import defaultdict
from pathlib import Path

import pytest

from teamgate.ledger.attribution import tag_value
from teamgate.ledger.records import UsageRecord
from teamgate.ledger.sqlite.store import SQLiteStore
from teamgate.ledger.store import Store
from teamgate.ledger.summary import UsageGroup
from tests.support.ledger_records import make_record

from .test_summary_contract import RANGES, T0, sample_records

USERS = ("", "u-1", "alice@example.com", "Zoë ✓", "u 2 with spaces")
TAG_SETS = (
    "",
    "feature=search",
    "feature=search,tenant=acme",
    "feature=chat,tenant=globex",
    "tenant=acme",
    "feature=search-v2,tenant=a.b:c@d/e",
)


def attributed(n: int = 600, seed: int = 11) -> list[UsageRecord]:
    rng = random.Random(seed)
    return [
        UsageRecord(
            **{
                **{f: getattr(r, f) for f in r.__dataclass_fields__},
                "end_user": rng.choice(USERS),
                "tags": rng.choice(TAG_SETS),
            }
        )
        for r in sample_records(n)
    ]


def expected(
    records: list[UsageRecord], start: float, end: float, dims: tuple[str, ...]
) -> list[UsageGroup]:
    def value(r: UsageRecord, dim: str) -> str:
        if dim == "user":
            return r.end_user
        if dim.startswith("tag:"):
            return tag_value(r.tags, dim[4:])
        return {"team": r.team, "model": r.model_served or r.model_requested}[dim]

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


async def test_end_user_and_tags_round_trip(store: Store) -> None:
    records = attributed(40)
    await store.append_usage(records)
    assert await store.usage_records(T0 - 1, T0 + 10 * 86400) == sorted(records, key=lambda r: r.ts)
    page, _ = await store.usage_page(T0 - 1, T0 + 10 * 86400)
    assert sorted(page, key=lambda r: r.request_id) == sorted(records, key=lambda r: r.request_id)


async def test_a_record_without_attribution_has_empty_fields(store: Store) -> None:
    await store.append_usage([make_record(T0)])
    [got] = await store.usage_records(T0, T0 + 1)
    assert (got.end_user, got.tags) == ("", "")


@pytest.mark.parametrize("span", RANGES)
@pytest.mark.parametrize(
    "dims",
    [("user",), ("tag:feature",), ("tag:tenant",), ("team", "user"), ("tag:feature", "model")],
)
async def test_summary_by_attribution_matches_records(
    store: Store, span: tuple[float, float], dims: tuple[str, ...]
) -> None:
    records = attributed()
    await store.append_usage(records[:250])
    await store.append_usage(records[250:])
    got = await store.usage_summary(span[0], span[1], dims)
    assert got == expected(records, span[0], span[1], dims)
    whole = await store.usage_summary(span[0], span[1])
    total = whole[0].cost_pusd if whole else 0
    assert sum(g.cost_pusd for g in got) == total  # to the picodollar


async def test_a_tag_key_is_not_a_prefix_match(store: Store) -> None:
    # "feat" must not read "feature=…", nor "ant" read "tenant=…"
    await store.append_usage([make_record(T0, tags="feature=search,tenant=acme")])
    for dim in ("tag:feat", "tag:ant", "tag:feature_x"):
        [group] = await store.usage_summary(T0, T0 + 1, (dim,))
        assert group[dim] == ""


async def test_summary_by_user_for_one_team(store: Store) -> None:
    records = attributed()
    await store.append_usage(records)
    got = await store.usage_summary(T0, T0 + 3 * 86400, ("user",), team="research")
    mine = [r for r in records if r.team == "research"]
    assert got == expected(mine, T0, T0 + 3 * 86400, ("user",))


@pytest.mark.parametrize("dim", ["tag:", "tag:Feature", "tag:a=b", "tag:x,y", "users"])
async def test_a_malformed_attribution_dimension_is_refused(store: Store, dim: str) -> None:
    with pytest.raises(ValueError, match="unknown group_by dimension"):
        await store.usage_summary(T0, T0 + 1, (dim,))


async def test_sqlite_ledger_from_before_attribution_gets_the_columns(tmp_path: Path) -> None:
    """A ledger written by a teamgate without attribution opens; old rows read as ""."""
    path = tmp_path / "old.db"
    store = SQLiteStore(str(path))
    await store.open()
    await store.append_usage([make_record(T0, end_user="x", tags="feature=a")])
    await store.close()
    conn = sqlite3.connect(path)  # back to the old table: no end_user, no tags
    conn.execute("ALTER TABLE usage DROP COLUMN end_user")
    conn.execute("ALTER TABLE usage DROP COLUMN tags")
    conn.commit()
    conn.close()
    store = SQLiteStore(str(path))
    await store.open()
    try:
        [old] = await store.usage_records(T0, T0 + 1)
        assert (old.end_user, old.tags) == ("", "")
        await store.append_usage([make_record(T0 + 1, end_user="u-9", tags="feature=b")])
        groups = await store.usage_summary(T0, T0 + 2, ("user", "tag:feature"))
        assert [(g["user"], g["tag:feature"], g.requests) for g in groups] == [
            ("", "", 1),
            ("u-9", "b", 1),
        ]
    finally:
        await store.close()
