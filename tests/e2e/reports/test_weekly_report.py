"""The weekly report matches, cent for cent, sums computed here from the records."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import pytest

from teamgate.cli import main
from teamgate.ledger.records import UsageRecord

from .conftest import WEEK_END, WEEK_START, Ledger

PICO = Decimal(10) ** 12


def dollars_exact(pico: int) -> Decimal:
    return Decimal(pico) / PICO


def cents(pico: int) -> str:
    """Dollars as the one money format writes them: thousands separators, cents."""
    return "$" + f"{(Decimal(pico) / PICO).quantize(Decimal('0.01'), ROUND_HALF_UP):,.2f}"


def in_week(records: list[UsageRecord], start: float = WEEK_START) -> list[UsageRecord]:
    return [r for r in records if start <= r.ts < start + 7 * 86400]


def expected_by_team(records: list[UsageRecord]) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for team in ("analytics", "chatbot", "research"):
        mine = [r for r in records if r.team == team]
        models: dict[str, int] = defaultdict(int)
        reasons: dict[str, int] = defaultdict(int)
        for r in mine:
            models[r.model_served or r.model_requested] += r.cost_pusd
            if r.refusal:
                reasons[r.refusal] += 1
        top = max(sorted(models), key=lambda m: models[m])
        out[team] = {
            "requests": len(mine),
            "cost": sum(r.cost_pusd for r in mine),
            "prompt": sum(r.prompt_tokens for r in mine),
            "completion": sum(r.completion_tokens for r in mine),
            "reasons": dict(reasons),
            "top": top,
        }
    return out


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_json_report_is_exact(ledger: Ledger, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_cli(
        capsys,
        "report",
        "weekly",
        "--config",
        str(ledger.config),
        "--week",
        "2026-W47",
        "--format",
        "json",
    )
    body = json.loads(out)
    assert body["period"] == "2026-W47" and body["previous_period"] == "2026-W46"
    week = in_week(ledger.records)
    previous = in_week(ledger.records, WEEK_START - 7 * 86400)
    want = expected_by_team(week)
    lines = {t["team"]: t for t in body["teams"]}
    assert set(lines) == set(want)
    for team, exp in want.items():
        line = lines[team]
        assert line["requests"] == exp["requests"]
        assert line["cost_pusd"] == exp["cost"]
        assert Decimal(line["cost_usd"]) == dollars_exact(exp["cost"])  # type: ignore[arg-type]
        assert line["prompt_tokens"] == exp["prompt"]
        assert line["completion_tokens"] == exp["completion"]
        assert line["refusals_by_reason"] == exp["reasons"]
        assert line["top_model"] == exp["top"]
        prev_cost = sum(r.cost_pusd for r in previous if r.team == team)
        assert line["previous_cost_pusd"] == prev_cost
        assert line["cost_change_pusd"] == exp["cost"] - prev_cost  # type: ignore[operator]
    assert body["total"]["cost_pusd"] == sum(r.cost_pusd for r in week)
    # Budget share: chatbot's monthly budget is $200.
    chatbot_cost = want["chatbot"]["cost"]
    share = (Decimal(chatbot_cost) * 100 / (200 * PICO)).quantize(  # type: ignore[arg-type]
        Decimal("0.01"), ROUND_HALF_UP
    )
    assert lines["chatbot"]["budget_used_percent"] == str(share)
    assert lines["chatbot"]["monthly_budget_usd"] == "200.000000000000"


def test_table_matches_cent_for_cent(ledger: Ledger, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_cli(capsys, "report", "weekly", "-c", str(ledger.config), "--week", "2026-W47")
    want = expected_by_team(in_week(ledger.records))
    assert out.splitlines()[0] == (
        "Weekly report 2026-W47: 2026-11-16 to 2026-11-22 (UTC), compared with 2026-W46"
    )
    rows = {line.split()[0]: line for line in out.splitlines()[4:] if line.strip()}
    header = out.splitlines()[2]
    assert set(out.splitlines()[3]) == {"-", " "}  # the one table style: a rule
    for team, exp in want.items():
        row = rows[team]
        assert f" {cents(exp['cost'])} " in row  # type: ignore[arg-type]
        assert f"{exp['requests']:,}" in row
        assert str(exp["top"]) in row
    total = sum(r.cost_pusd for r in in_week(ledger.records))
    assert f" {cents(total)} " in rows["TOTAL"]
    # Columns are aligned: every row's COST cell ends where the header's does.
    cost_end = header.index("cost") + len("cost")
    for team in want:
        assert rows[team][cost_end - 1] != " " and rows[team][cost_end] == " "


def test_csv_and_breakdown_by_model(ledger: Ledger, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_cli(
        capsys,
        "report",
        "weekly",
        "-c",
        str(ledger.config),
        "--week",
        "2026-W47",
        "--format",
        "csv",
        "--by",
        "model",
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    sums: dict[tuple[str, str], int] = defaultdict(int)
    for r in in_week(ledger.records):
        sums[(r.team, r.model_served or r.model_requested)] += r.cost_pusd
    got = {(row["team"], row["model"]): int(row["cost_pusd"]) for row in rows}
    assert got == dict(sums)
    for row in rows:
        assert Decimal(row["cost_usd"]) == dollars_exact(int(row["cost_pusd"]))


def test_monthly_report_and_markdown(ledger: Ledger, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_cli(
        capsys,
        "report",
        "monthly",
        "-c",
        str(ledger.config),
        "--month",
        "2026-11",
        "--format",
        "md",
        "--by",
        "environment",
    )
    assert out.startswith(
        "## Monthly report 2026-11: 2026-11-01 to 2026-11-30 (UTC), compared with 2026-10"
    )
    assert "| team |" in out and "### By environment" in out
    month_cost = sum(
        r.cost_pusd for r in ledger.records if r.ts >= 1793491200.0 and r.team == "research"
    )
    assert f"| {cents(month_cost)} |" in out


def test_bad_week_is_a_clear_error(ledger: Ledger, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "weekly", "-c", str(ledger.config), "--week", "2026-47"]) == 2
    assert "2026-W47" in capsys.readouterr().err


def test_export_writes_every_record_in_range(
    ledger: Ledger, capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    out = run_cli(
        capsys,
        "report",
        "export",
        "-c",
        str(ledger.config),
        "--from",
        "2026-11-16",
        "--to",
        "2026-11-23",
        "--format",
        "jsonl",
    )
    lines = [json.loads(line) for line in out.splitlines()]
    assert sorted(x["request_id"] for x in lines) == sorted(
        r.request_id for r in in_week(ledger.records)
    )
    assert WEEK_END == WEEK_START + 7 * 86400
