"""A ledger of known records and a config file pointing at it."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from teamgate.ledger.records import UsageRecord
from teamgate.ledger.sqlite.store import SQLiteStore
from tests.conftest import BASE_CONFIG, merge
from tests.support.priced_records import PRICES, record

WEEK_START = datetime(2026, 11, 16, tzinfo=UTC).timestamp()  # Monday of 2026-W47
WEEK_END = WEEK_START + 7 * 86400


def known_records(seed: int = 47) -> list[UsageRecord]:
    """Records in 2026-W46, W47 (some a hair inside each edge) and W48."""
    rng = random.Random(seed)
    teams = ("chatbot", "analytics", "research")
    out = []
    for i in range(900):
        team = rng.choice(teams)
        model = rng.choice(list(PRICES))
        ts = WEEK_START - 7 * 86400 + rng.uniform(0, 21 * 86400)
        refusal = rng.choice(["", "", "", "", "budget", "rate_limit"])
        out.append(
            record(
                ts,
                team,
                model,
                rng.randrange(1, 20_000),
                rng.randrange(1, 8_000),
                refusal=refusal,
                environment=rng.choice(("prod", "staging")),
                purpose=rng.choice(("web", "batch")),
                request_id=f"r{i}",
            )
        )
    for ts in (WEEK_START - 0.001, WEEK_START, WEEK_END - 0.001, WEEK_END):
        out.append(record(ts, "chatbot", "llama-3.3-70b-versatile", 12_345, 6_789))
    return out


@dataclass
class Ledger:
    config: Path
    db: Path
    records: list[UsageRecord]


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    db = tmp_path / "ledger.db"
    data = merge(BASE_CONFIG, {"storage": {"url": f"sqlite:///{db}"}})
    data["upstream"] = {"base_url": "http://127.0.0.1:9"}
    config = tmp_path / "teamgate.yaml"
    config.write_text(yaml.safe_dump(data))
    records = known_records()

    async def fill() -> None:
        store = SQLiteStore(str(db))
        await store.open()
        try:
            for i in range(0, len(records), 100):
                await store.append_usage(records[i : i + 100])
        finally:
            await store.close()

    asyncio.run(fill())
    return Ledger(config, db, records)
