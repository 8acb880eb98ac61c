"""Snapshots of CLI tables: one style (lowercase headers, a rule, numbers right-aligned,
one money format). Times and months are replaced by placeholders before comparing.

Refresh after an intended change: ``TEAMGATE_UPDATE_SNAPSHOTS=1 scripts/test tests/e2e/cli``.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import pytest

from teamgate.ledger.sqlite.store import SQLiteStore
from tests.e2e.cli.cli_inproc import teamgate, write_config
from tests.support.priced_records import record

SNAPSHOTS = Path(__file__).parent / "snapshots"
_VARIABLE = [
    (re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}Z"), "<time>"),
    (re.compile(r"Month to date: \d{4}-\d{2}"), "Month to date: <month>"),
    (re.compile(r"@rotated-\d{8}T\d{6}Z"), "@rotated-<time>"),
    (re.compile(r"tg_…\w{4}"), "tg_…<fp>"),
]


def normalized(text: str) -> str:
    for pattern, placeholder in _VARIABLE:
        text = pattern.sub(placeholder, text)
    return text


def matches_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    text = normalized(text)
    if os.environ.get("TEAMGATE_UPDATE_SNAPSHOTS"):
        path.write_text(text)
    assert text == path.read_text(), f"{name}: output changed (see the module docstring)"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TEAMGATE_CONFIG", "TEAMGATE_ADMIN_KEY", "GROQ_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_pricing_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = teamgate(capsys, "pricing")
    assert code == 0
    matches_snapshot("pricing", out)


def test_usage_and_keys_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import time

    config = str(write_config(tmp_path, {"server": {"port": 9}}))
    for team, env in (("chatbot", "prod"), ("research", "batch")):
        code, _, err = teamgate(
            capsys, "keys", "create", "-c", config, "--team", team, "--env", env, "--purpose", "web"
        )
        assert code == 0, err
    teamgate(capsys, "keys", "rotate", "chatbot-prod-web", "-c", config)
    now = time.time()

    async def spend() -> None:
        store = SQLiteStore(str(tmp_path / "ledger.db"))
        await store.open()
        await store.append_usage(
            [
                record(now - 60, "chatbot", "llama-3.3-70b-versatile", 200_000, 100_000),
                record(now - 50, "research", "llama-3.1-8b-instant", 1, 1, request_id="tiny"),
                record(
                    now - 40,
                    "research",
                    "llama-3.1-8b-instant",
                    9,
                    0,
                    refusal="team_budget",
                    request_id="refused",
                ),
            ]
        )
        await store.close()

    asyncio.run(spend())
    code, out, _ = teamgate(capsys, "usage", "-c", config)
    assert code == 0
    out = re.sub(r"cannot reach the gateway at \S+: .*\(pass", "cannot reach <gateway> (pass", out)
    matches_snapshot("usage", out)
    code, out, _ = teamgate(capsys, "keys", "list", "-c", config)
    assert code == 0
    matches_snapshot("keys-list", out)
