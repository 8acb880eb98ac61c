"""Reports as text: an aligned table, CSV, JSON and Markdown.

The table and Markdown show dollars with cents; CSV and JSON carry exact
values: integer picodollars and exact decimal dollar strings
(``"12.345678000000"``), with percentages as strings to the hundredth.

>>> # print(render(report, "table"))
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from teamgate.pricing.money import exact_usd, format_usd
from teamgate.reports.build import Report, TeamLine
from teamgate.reports.escape import SafeCsvWriter, markdown_cell, plain_text, with_texts
from teamgate.text.display import percent
from teamgate.text.table import render_table as text_table

FORMATS: tuple[str, ...] = ("table", "csv", "json", "md")


def _pct(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:f}"


def _refusal_text(line: TeamLine) -> str:
    if not line.refusals:
        return "0"
    reasons = ", ".join(f"{reason} {n:,}" for reason, n in line.refusals.items())
    return f"{line.refused:,} ({reasons})"


def _change_text(line: TeamLine) -> str:
    if line.cost_change_pusd == 0:
        return "="
    sign = "+" if line.cost_change_pusd > 0 else "-"
    text = f"{sign}{format_usd(abs(line.cost_change_pusd))}"
    pct = line.cost_change_percent
    if pct is None:
        return text
    tenth = pct.quantize(Decimal("0.1"), ROUND_DOWN)
    return f"{text} ({'+' if pct > 0 else ''}{tenth}%)"


def team_row(line: TeamLine) -> list[str]:
    """The display cells of one team line (table and Markdown)."""
    used = line.budget_used_percent
    return [
        line.team,
        f"{line.requests:,}",
        _refusal_text(line),
        f"{line.prompt_tokens:,}",
        f"{line.completion_tokens:,}",
        format_usd(line.cost_pusd),
        "-" if line.budget_pusd is None else format_usd(line.budget_pusd),
        "-" if used is None else percent(line.cost_pusd, line.budget_pusd),
        line.top_model or "-",
        _change_text(line),
    ]


HEADER = [
    "team",
    "requests",
    "refused",
    "input tokens",
    "output tokens",
    "cost",
    "budget/month",
    "used",
    "top model",
    "vs previous",
]
_LEFT = {0, 2, 8}  # text columns; the rest are numbers, right-aligned


def title(report: Report) -> str:
    """``Weekly report 2026-W47: 2026-11-16 to 2026-11-22 (UTC), compared with 2026-W46``."""
    p = report.period
    kind = "Weekly" if p.kind == "weekly" else "Monthly"
    last_day = datetime.fromtimestamp(p.end_ts - 1, ZoneInfo(p.timezone)).date()
    span = f"{p.first_day.isoformat()} to {last_day.isoformat()}"
    if p.end_ts > report.generated_at:
        today = datetime.fromtimestamp(report.generated_at, ZoneInfo(p.timezone)).date()
        span += f" (to date: {today.isoformat()})"
    return f"{kind} report {p.label}: {span} ({p.timezone}), compared with {report.previous.label}"


def _breakdown_rows(report: Report) -> tuple[list[str], list[list[str]]]:
    header = ["team", report.by or "", "requests", "refused", "input", "output", "cost"]
    rows = [
        [
            b.team,
            b.value or "-",
            f"{b.requests:,}",
            f"{b.refused:,}",
            f"{b.prompt_tokens:,}",
            f"{b.completion_tokens:,}",
            format_usd(b.cost_pusd),
        ]
        for b in report.breakdown
    ]
    return header, rows


def _aligned(header: list[str], rows: list[list[str]], left: set[int]) -> list[str]:
    right = set(range(len(header))) - left
    return text_table(header, rows, right=right)


def render_table(report: Report) -> str:
    report = with_texts(report, plain_text)
    rows = [team_row(line) for line in report.teams] + [team_row(report.total)]
    lines = [title(report), "", *_aligned(HEADER, rows, _LEFT)]
    if report.by is not None:
        header, brows = _breakdown_rows(report)
        lines += ["", f"By {report.by}:", *_aligned(header, brows, {0, 1})]
    return "\n".join(lines) + "\n"


def render_markdown(report: Report) -> str:
    def md(header: list[str], rows: list[list[str]], left: set[int]) -> list[str]:
        align = ["---" if i in left else "---:" for i in range(len(header))]
        return ["| " + " | ".join(r) + " |" for r in [header, align, *rows]]

    report = with_texts(report, markdown_cell)
    rows = [team_row(line) for line in report.teams] + [
        [f"**{c}**" for c in team_row(report.total)]
    ]
    lines = [f"## {title(report)}", "", *md(HEADER, rows, _LEFT)]
    if report.by is not None:
        header, brows = _breakdown_rows(report)
        lines += ["", f"### By {report.by}", "", *md(header, brows, {0, 1})]
    return "\n".join(lines) + "\n"


def line_json(line: TeamLine) -> dict[str, Any]:
    """One team line with exact values (picodollars and exact decimal dollar strings)."""
    return {
        "team": line.team,
        "requests": line.requests,
        "refusals": line.refused,
        "refusals_by_reason": line.refusals,
        "errors": line.errors,
        "prompt_tokens": line.prompt_tokens,
        "completion_tokens": line.completion_tokens,
        "cost_pusd": line.cost_pusd,
        "cost_usd": exact_usd(line.cost_pusd),
        "monthly_budget_pusd": line.budget_pusd,
        "monthly_budget_usd": exact_usd(line.budget_pusd),
        "budget_used_percent": _pct(line.budget_used_percent),
        "top_model": line.top_model,
        "previous_requests": line.previous_requests,
        "previous_cost_pusd": line.previous_cost_pusd,
        "previous_cost_usd": exact_usd(line.previous_cost_pusd),
        "cost_change_pusd": line.cost_change_pusd,
        "cost_change_usd": exact_usd(line.cost_change_pusd),
        "cost_change_percent": _pct(line.cost_change_percent),
    }


def report_json(report: Report) -> dict[str, Any]:
    """The whole report as a JSON-ready dict (also the admin API's body)."""

    def iso(ts: float) -> str:
        return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")

    p, prev = report.period, report.previous
    return {
        "kind": p.kind,
        "period": p.label,
        "timezone": p.timezone,
        "start": iso(p.start_ts),
        "end": iso(p.end_ts),
        "previous_period": prev.label,
        "generated_at": iso(report.generated_at),
        "teams": [line_json(line) for line in report.teams],
        "total": line_json(report.total),
        "by": report.by,
        "breakdown": [
            {
                "team": b.team,
                "value": b.value,
                "requests": b.requests,
                "refusals": b.refused,
                "prompt_tokens": b.prompt_tokens,
                "completion_tokens": b.completion_tokens,
                "cost_pusd": b.cost_pusd,
                "cost_usd": exact_usd(b.cost_pusd),
            }
            for b in report.breakdown
        ],
    }


def render_json(report: Report) -> str:
    return orjson.dumps(report_json(report), option=orjson.OPT_INDENT_2).decode() + "\n"


def render_csv(report: Report) -> str:
    """One row per team (and TOTAL); with ``by``, one row per team and value instead."""
    out = io.StringIO()
    writer = SafeCsvWriter(out)
    if report.by is not None:
        body = report_json(report)["breakdown"]
        columns = ["team", "value", "requests", "refusals", "prompt_tokens"]
        columns += ["completion_tokens", "cost_pusd", "cost_usd"]
        writer.writerow(["period", *[report.by if c == "value" else c for c in columns]])
        for row in body:
            writer.writerow([report.period.label, *[row[c] for c in columns]])
        return out.getvalue()
    lines = [line_json(line) for line in [*report.teams, report.total]]
    columns = [c for c in lines[0] if c != "refusals_by_reason"]
    writer.writerow(["period", *columns, "refusals_by_reason"])
    for row in lines:
        reasons = ";".join(f"{k}={v}" for k, v in row["refusals_by_reason"].items())
        writer.writerow(
            [report.period.label, *["" if row[c] is None else row[c] for c in columns], reasons]
        )
    return out.getvalue()


def render(report: Report, fmt: str) -> str:
    """The report in ``fmt`` (one of :data:`FORMATS`)."""
    renderers = {
        "table": render_table,
        "csv": render_csv,
        "json": render_json,
        "md": render_markdown,
    }
    if fmt not in renderers:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return renderers[fmt](report)
