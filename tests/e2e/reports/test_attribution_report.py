"""``teamgate report --by user`` and ``--by tag:KEY``: per team, the lines sum to the team."""

from __future__ import annotations

import csv
import io
import json
import random

import pytest

from teamgate.cli import main
from tests.support.priced_records import record

from .conftest import WEEK_START, Ledger

USERS = ("", "ana", "bo", "carla@example.com")
TAGS = ("", "feature=search", "feature=chat,tenant=acme", "tenant=globex")


@pytest.fixture
def attributed(ledger: Ledger) -> Ledger:
    """The known ledger, plus attributed records inside 2026-W47."""
    import asyncio

    from teamgate.ledger.sqlite.store import SQLiteStore

    rng = random.Random(5)
    extra = [
        record(
            WEEK_START + rng.uniform(0, 7 * 86400),
            rng.choice(("chatbot", "research")),
            "llama-3.1-8b-instant",
            rng.randrange(1, 5000),
            rng.randrange(1, 900),
            request_id=f"attr-{i}",
            end_user=rng.choice(USERS),
            tags=rng.choice(TAGS),
        )
        for i in range(200)
    ]

    async def add() -> None:
        store = SQLiteStore(str(ledger.db))
        await store.open()
        try:
            await store.append_usage(extra)
        finally:
            await store.close()

    asyncio.run(add())
    ledger.records += extra
    return ledger


@pytest.mark.parametrize("by", ["user", "tag:feature", "tag:tenant"])
def test_breakdown_by_attribution_sums_to_each_team(
    attributed: Ledger, by: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["report", "weekly", "-c", str(attributed.config), "--week", "2026-W47", "--by", by]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["by"] == by
    for team in report["teams"]:
        lines = [b for b in report["breakdown"] if b["team"] == team["team"]]
        assert sum(b["cost_pusd"] for b in lines) == team["cost_pusd"]
        assert sum(b["requests"] for b in lines) == team["requests"]
    values = {b["value"] for b in report["breakdown"]}
    if by == "user":
        assert values == set(USERS)
    elif by == "tag:feature":
        assert values == {"", "search", "chat"}
    assert main([*args, "--format", "csv"]) == 0
    header = next(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert by in header
    assert main(args) == 0
    assert f"By {by}:" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["tag:", "tag:Feature", "users", "tag:a=b"])
def test_an_unknown_breakdown_is_refused_with_the_choices(
    attributed: Ledger, bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["report", "monthly", "-c", str(attributed.config), "--by", bad])
    assert exited.value.code == 2
    assert "tag:KEY" in capsys.readouterr().err
