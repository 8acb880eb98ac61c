"""``teamgate check``, ``teamgate pricing`` and ``teamgate usage``."""

from __future__ import annotations

import argparse
import time
from typing import Any

import orjson

from teamgate.budget.period import month_of
from teamgate.cli.admin_client import AdminUnavailable, call_admin
from teamgate.cli.options import add_config, settings_from, with_store
from teamgate.config.loader import render_summary
from teamgate.config.schema import Settings
from teamgate.ledger.store import Store
from teamgate.ledger.summary import UsageGroup
from teamgate.pricing import (
    PriceTable,
    format_usd,
    pico_to_decimal_usd,
    render_price_table,
    usd_to_pico,
)
from teamgate.text_table import render_table


def add_commands(sub: Any) -> None:
    check = sub.add_parser("check", help="validate a config and print a summary")
    add_config(check)
    check.set_defaults(func=cmd_check)

    pricing = sub.add_parser("pricing", help="print the price table in force")
    add_config(pricing)
    pricing.set_defaults(func=cmd_pricing)

    usage = sub.add_parser("usage", help="month-to-date spend against budgets")
    add_config(usage)
    usage.add_argument("--json", action="store_true")
    usage.set_defaults(func=cmd_usage)


def cmd_check(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    print(render_summary(settings))
    return 0


def cmd_pricing(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    print(render_price_table(PriceTable.from_settings(settings)))
    return 0


def cmd_usage(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    period = month_of(time.time(), settings.org.timezone)

    async def fetch(store: Store) -> list[UsageGroup]:
        # The store's exact roll-ups answer this in milliseconds on a big ledger.
        return await store.usage_summary(period.start_ts, period.end_ts, ("team",))

    spent = {g["team"]: g for g in with_store(settings, fetch)}
    reserved = _open_reservations(settings)
    rows: list[dict[str, Any]] = []
    for name, team in settings.teams.items():
        total = spent.get(name)
        cost = total.cost_pusd if total else 0
        budget = (
            usd_to_pico(team.monthly_budget_usd) if team.monthly_budget_usd is not None else None
        )
        rows.append(_row(name, cost, total.requests if total else 0, budget, reserved.get(name)))
    org_cost = sum(s.cost_pusd for s in spent.values())
    org_budget = settings.org.monthly_budget_usd
    rows.append(
        _row(
            "(org)",
            org_cost,
            sum(s.requests for s in spent.values()),
            usd_to_pico(org_budget) if org_budget is not None else None,
            reserved.get(None),
        )
    )
    if args.json:
        print(
            orjson.dumps(
                {"period": period.key, "scopes": rows}, option=orjson.OPT_INDENT_2
            ).decode()
        )
        return 0
    print(f"Month to date: {period.key} ({settings.org.timezone})")
    header = ("SCOPE", "REQUESTS", "SPENT", "RESERVED", "BUDGET", "USED")
    table = [
        (
            r["scope"],
            str(r["requests"]),
            format_usd(r["spent_pusd"]),
            format_usd(r["reserved_pusd"]) if r["reserved_pusd"] is not None else "-",
            format_usd(r["budget_pusd"]) if r["budget_pusd"] is not None else "-",
            f"{r['percent']:.1f} %" if r["percent"] is not None else "-",
        )
        for r in rows
    ]
    print("\n".join(render_table(header, table, right=range(1, len(header)))))
    return 0


def _open_reservations(settings: Settings) -> dict[str | None, int]:
    """Reserved picodollars per team (None: the org) from the running gateway, if it answers.

    Reservations live in the gateway (or Redis), not in the ledger; without a running
    gateway and the admin key, RESERVED shows ``-``.
    """
    try:
        answer = call_admin(settings, "GET", "/admin/budget", timeout_s=3)
    except AdminUnavailable:
        return {}
    return {row["team"]: int(row["reserved_pusd"]) for row in answer.get("scopes", [])}


def _row(
    scope: str, cost: int, requests: int, budget: int | None, reserved: int | None
) -> dict[str, Any]:
    return {
        "scope": scope,
        "requests": requests,
        "spent_pusd": cost,
        "reserved_pusd": reserved,
        "spent_usd": str(pico_to_decimal_usd(cost)),
        "budget_pusd": budget,
        "percent": (cost * 1000 // budget) / 10 if budget else None,
    }
