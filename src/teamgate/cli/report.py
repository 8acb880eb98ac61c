"""``teamgate report weekly | monthly | export``: spend reports and ledger exports."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any, TextIO

from teamgate.cli.options import add_config, fail, settings_from, with_store
from teamgate.ledger.store import Store
from teamgate.reports import (
    build_report,
    default_month,
    default_week,
    month_named,
    render,
    week_named,
)
from teamgate.reports.build import BREAKDOWN_HELP, Report, check_breakdown
from teamgate.reports.export import export_records
from teamgate.reports.periods import ReportPeriod, parse_instant
from teamgate.reports.render import FORMATS
from teamgate.reports.slack import WebhookFailed, post_webhook, slack_message
from teamgate.text.progress import ProgressBar


def add_commands(sub: Any) -> None:
    report = sub.add_parser("report", help="weekly and monthly spend reports, ledger exports")
    rsub = report.add_subparsers(dest="report_command", required=True, metavar="KIND")
    weekly = rsub.add_parser(
        "weekly",
        help="an ISO week (default: the last complete week)",
        description="Spend per team for one ISO week, Monday 00:00 to Monday 00:00 in "
        "org.timezone. Without --week: the last complete week (the header prints its dates). "
        "A week that has not started yet is an error.",
    )
    weekly.add_argument(
        "--week", metavar="YYYY-Www", help="e.g. 2026-W47 (default: the last complete week)"
    )
    weekly.add_argument(
        "--send", action="store_true", help="post it to alerts.webhook_url (checked first)"
    )
    monthly = rsub.add_parser(
        "monthly",
        help="a calendar month (default: this month to date)",
        description="Spend per team for one calendar month in org.timezone. Without --month: "
        "this month to date. A month that has not started yet is an error.",
    )
    monthly.add_argument(
        "--month", metavar="YYYY-MM", help="e.g. 2026-11 (default: this month to date)"
    )
    for parser in (weekly, monthly):
        add_config(parser)
        parser.add_argument("--format", choices=FORMATS, default="table")
        parser.add_argument("--json", action="store_true", help="the same as --format json")
        parser.add_argument(
            "--by",
            type=_breakdown,
            metavar="DIMENSION",
            help=f"also break down per team by this: {BREAKDOWN_HELP}",
        )
        parser.add_argument("--output", "-o", metavar="FILE", help="write here, not to stdout")
        parser.set_defaults(func=cmd_report)
    export = rsub.add_parser("export", help="every ledger record of a range, CSV or JSON Lines")
    add_config(export)
    export.add_argument("--from", dest="start", required=True, help="YYYY-MM-DD or ISO time")
    export.add_argument("--to", dest="end", required=True, help="exclusive; YYYY-MM-DD or ISO")
    export.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    export.add_argument("--output", "-o", metavar="FILE", help="write here, not to stdout")
    export.set_defaults(func=cmd_export)


def _breakdown(text: str) -> str:
    try:
        return check_breakdown(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--by ")) from None


def _period(args: argparse.Namespace, tz: str, now: float) -> ReportPeriod:
    """The period asked for; ValueError for one that has not started (it would be all zeros)."""
    if args.report_command == "weekly":
        period = week_named(args.week, tz) if args.week else default_week(now, tz)
    else:
        period = month_named(args.month, tz) if args.month else default_month(now, tz)
    if period.start_ts > now:
        raise ValueError(
            f"{period.label} has not started yet (it starts {period.first_day.isoformat()}, "
            f"{tz}); leave out --{'week' if period.kind == 'weekly' else 'month'} for the "
            f"{'last complete week' if period.kind == 'weekly' else 'current month'}"
        )
    return period


def _write(text: str, output: str | None) -> None:
    if output:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


def cmd_report(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    try:
        period = _period(args, settings.org.timezone, time.time())
    except ValueError as exc:
        return fail(str(exc))
    url = settings.alerts.webhook_url
    if getattr(args, "send", False) and not url:
        return fail("--send needs alerts.webhook_url in the config; nothing was built or sent")

    async def make(store: Store) -> Report:
        return await build_report(store, settings, period, by=args.by)

    report = with_store(settings, make)
    _write(render(report, "json" if args.json else args.format), args.output)
    if getattr(args, "send", False):
        assert url is not None
        try:
            asyncio.run(post_webhook(url, slack_message(report)))
        except WebhookFailed as exc:
            return fail(f"report not sent: {exc}")
        print(f"teamgate: report {period.label} sent to the alert webhook", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    tz = settings.org.timezone
    try:
        start, end = parse_instant(args.start, tz), parse_instant(args.end, tz)
    except ValueError as exc:
        return fail(str(exc))

    async def run(store: Store) -> int:
        progress = ProgressBar(await store.count_usage(start, end))
        out: TextIO
        if args.output:
            with open(args.output, "w", encoding="utf-8", newline="") as out:  # noqa: ASYNC230
                return await export_records(store, start, end, out, args.format, progress=progress)
        return await export_records(store, start, end, sys.stdout, args.format, progress=progress)

    n = with_store(settings, run)
    print(f"teamgate: exported {n:,} records", file=sys.stderr)
    return 0
