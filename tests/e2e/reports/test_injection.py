"""Text a team controls cannot reach reports, exports or webhooks as live content.

A refused request's model name is not stored (``(refused)`` unless the gateway knows
the name); and ledgers written before that still render inert: CSV cells are not
formulas, Slack and Markdown get escaped text."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from teamgate.cli import main
from teamgate.http.serving import ServerThread
from teamgate.ledger.refused_model import REFUSED_MODEL
from teamgate.ledger.sqlite.store import SQLiteStore
from teamgate.reports.escape import csv_cell, markdown_cell, slack_text
from tests.conftest import RunningGateway
from tests.support.chat_checks import records_when
from tests.support.priced_records import record

from .conftest import WEEK_START, Ledger
from .test_send import Inbox

FORMULA = '=HYPERLINK("http://evil.example/x","Click me")'
SLACK = "x```\n<!channel> see <http://evil.example|here> & `run`"
INJECTIONS = [
    FORMULA,
    SLACK,
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "| col | injected |\n|---|---|",
    "\x1b[31mred\x1b[0m",
]


@pytest.mark.parametrize("model", INJECTIONS)
def test_a_refused_model_name_is_not_stored(gateway: RunningGateway, model: str) -> None:
    resp = httpx.post(
        gateway.url + "/openai/v1/chat/completions",
        headers={"authorization": f"Bearer {gateway.key('analytics')}"},
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert resp.status_code in (400, 403, 404), resp.text
    (rec,) = records_when(gateway, 1)
    assert rec.model_requested == REFUSED_MODEL and rec.model_served == ""


def test_a_known_model_refused_by_policy_keeps_its_name(gateway: RunningGateway) -> None:
    for path, body in [
        ("/openai/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
        ("/openai/v1/responses", {"input": "hi"}),
    ]:
        resp = httpx.post(
            gateway.url + path,
            headers={"authorization": f"Bearer {gateway.key('analytics')}"},
            json={"model": "llama-3.3-70b-versatile", **body},
        )
        assert resp.status_code == 403, resp.text
    records = records_when(gateway, 2)
    assert {r.model_requested for r in records} == {"llama-3.3-70b-versatile"}


def test_refused_responses_model_is_labelled_too(gateway: RunningGateway) -> None:
    resp = httpx.post(
        gateway.url + "/openai/v1/responses",
        headers={"authorization": f"Bearer {gateway.key('analytics')}"},
        json={"model": FORMULA, "input": "hi"},
    )
    assert resp.status_code in (400, 403, 404)
    (rec,) = records_when(gateway, 1)
    assert rec.model_requested == REFUSED_MODEL


@pytest.fixture
def poisoned(ledger: Ledger) -> Ledger:
    """The report fixture's ledger plus rows an older teamgate stored with raw user text,
    refused and (for the top-model line) served."""
    rows = []
    for i, text in enumerate(INJECTIONS):
        base = record(WEEK_START + 3600 + i, "analytics", "llama-3.1-8b-instant", 10, 10)
        rows.append(_with(base, f"inj-r{i}", model_requested=text, model_served="", status=403))
        served = record(WEEK_START + 7200 + i, "research", "llama-3.1-8b-instant", 9**7, 9**6)
        rows.append(_with(served, f"inj-s{i}", model_requested=text, model_served=text))

    async def fill() -> None:
        store = SQLiteStore(str(ledger.db))
        await store.open()
        try:
            await store.append_usage(rows)
        finally:
            await store.close()

    asyncio.run(fill())
    return ledger


def _with(rec: Any, request_id: str, **changes: Any) -> Any:
    import dataclasses

    return dataclasses.replace(rec, request_id=request_id, refusal="model_not_found", **changes)


def _report(ledger: Ledger, *args: str, capsys: pytest.CaptureFixture[str]) -> str:
    argv = ["report", "weekly", "-c", str(ledger.config), "--week", "2026-W47", *args]
    assert main(argv) == 0
    return capsys.readouterr().out


def _assert_inert_csv(text: str) -> list[str]:
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert cells
    for cell in cells:
        if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
            float(cell.rstrip("%"))  # only plain numbers may start like a formula
    return cells


@pytest.mark.parametrize("by", ["model", "key", "environment", "purpose"])
def test_report_csv_has_no_live_formula(
    poisoned: Ledger, by: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _report(poisoned, "--by", by, "--format", "csv", capsys=capsys)
    cells = _assert_inert_csv(text)
    if by == "model":
        assert "'" + FORMULA in cells  # the text is still there, as text


def test_export_csv_has_no_live_formula(
    poisoned: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["report", "export", "-c", str(poisoned.config)]
    assert main([*argv, "--from", "2026-11-16", "--to", "2026-11-23", "--format", "csv"]) == 0
    cells = _assert_inert_csv(capsys.readouterr().out)
    assert "'" + FORMULA in cells


def test_markdown_report_is_inert(poisoned: Ledger, capsys: pytest.CaptureFixture[str]) -> None:
    text = _report(poisoned, "--by", "model", "--format", "md", capsys=capsys)
    assert "<!channel>" not in text and "<http" not in text and "```" not in text
    assert "\x1b" not in text
    # Every table row still has the header's number of columns: no cell broke out.
    rows = [line for line in text.splitlines() if line.startswith("|")]
    widths = {line.replace("\\|", "").count("|") for line in rows}
    assert len(widths) <= 2, widths  # the team table and the breakdown table


def test_table_report_has_no_control_characters(
    poisoned: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _report(poisoned, "--by", "model", capsys=capsys)
    assert "\x1b" not in text and "\r" not in text and "\t" not in text


def test_slack_send_is_inert(poisoned: Ledger, capsys: pytest.CaptureFixture[str]) -> None:
    inbox = Inbox()
    with ServerThread(inbox) as url:
        data = yaml.safe_load(poisoned.config.read_text())
        data["alerts"] = {"webhook_url": url + "/hook"}
        config = Path(poisoned.config.parent / "send.yaml")
        config.write_text(yaml.safe_dump(data))
        argv = ["report", "weekly", "-c", str(config), "--week", "2026-W47", "--by", "model"]
        assert main([*argv, "--send"]) == 0
    text = json.loads(inbox.bodies[0])["text"]
    assert text.count("```") == 2, text  # our own code block, opened and closed once
    assert "<" not in text and ">" not in text, text  # no <!channel>, no <link|label>
    assert "&lt;!channel&gt;" in text  # the text is shown, as text
    assert "`run`" not in text
    lines = text.split("\n")
    bullets = [line for line in lines if line.startswith("•")]
    assert len(bullets) == 3  # one per team, none split by an injected newline


@pytest.mark.parametrize(
    ("value", "csv_out", "slack_out", "md_out"),
    [
        ("=1+1", "'=1+1", "=1+1", "=1+1"),
        ("-1.50", "-1.50", "-1.50", "-1.50"),
        ("+12%", "+12%", "+12%", "+12%"),
        ("@x", "'@x", "@x", "@x"),
        ("\tx", "'\tx", "?x", "?x"),
        ("\rx", "'\rx", " x", " x"),
        ("a<b>&c", "a<b>&c", "a&lt;b&gt;&amp;c", "a&lt;b&gt;&amp;c"),
        ("`x`\ny", "`x`\ny", "ˋxˋ y", "&#96;x&#96; y"),
        ("a|b", "a|b", "a|b", "a\\|b"),
    ],
)
def test_escaping_table(value: str, csv_out: str, slack_out: str, md_out: str) -> None:
    assert csv_cell(value) == csv_out
    assert slack_text(value) == slack_out
    assert markdown_cell(value) == md_out
