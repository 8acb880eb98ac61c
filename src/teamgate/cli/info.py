"""``teamgate check``, ``teamgate pricing`` and ``teamgate usage``."""

from __future__ import annotations

import argparse
import time
from decimal import Decimal
from typing import Any

import orjson

from teamgate.auth.pauses import describe_scope, pause_json
from teamgate.budget.period import month_of
from teamgate.budget.scopes import (
    SPEND_DIMENSIONS,
    key_scope,
    requests_by_scope,
    scope_team,
    settled_by_scope,
)
from teamgate.cli.admin_client import AdminUnavailable, add_url, admin_url, call_admin
from teamgate.cli.options import add_config, settings_from, with_store
from teamgate.config.loader import render_summary
from teamgate.config.schema import Settings
from teamgate.config.sections import redact_url
from teamgate.ledger.pause_records import Pause
from teamgate.ledger.records import ClientKey
from teamgate.ledger.store import Store
from teamgate.ledger.summary import UsageGroup
from teamgate.pricing.money import exact_usd, format_usd, usd_to_pico
from teamgate.pricing.prices import PriceTable, render_price_table
from teamgate.text.display import iso_time, percent, when
from teamgate.text.table import render_table


def add_commands(sub: Any) -> None:
    check = sub.add_parser("check", help="validate a config and print a summary")
    add_config(check)
    check.add_argument("--json", action="store_true", help="print the JSON of docs/cli.md")
    check.set_defaults(func=cmd_check)

    pricing = sub.add_parser("pricing", help="print the price table in force")
    add_config(pricing)
    pricing.add_argument("--json", action="store_true", help="print the JSON of docs/cli.md")
    pricing.set_defaults(func=cmd_pricing)

    usage = sub.add_parser("usage", help="month-to-date spend against budgets")
    add_config(usage)
    usage.add_argument("--json", action="store_true", help="print the JSON of docs/cli.md")
    add_url(usage)
    usage.set_defaults(func=cmd_usage)


def cmd_check(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if args.json:
        out = {
            "ok": True,
            "source": settings.source,
            "storage": redact_url(settings.storage.url),
            "timezone": settings.org.timezone,
            "teams": [
                {
                    "team": t.name,
                    "environments": sorted(t.environments),
                    "allowed_models": list(t.allowed_models),
                    "max_tokens_per_request": t.max_tokens_per_request,
                    "monthly_budget_usd": None
                    if t.monthly_budget_usd is None
                    else f"{t.monthly_budget_usd:f}",
                }
                for t in settings.teams.values()
            ],
        }
        print(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
        return 0
    print(render_summary(settings))
    return 0


def cmd_pricing(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    table = PriceTable.from_settings(settings)
    if args.json:
        rows = [
            {
                "model": model,
                "input_usd_per_million": inp,
                "output_usd_per_million": out,
                "source": source,
                "checked": None if checked == "-" else checked,
            }
            for model, inp, out, source, checked in table.rows()
        ]
        print(orjson.dumps({"prices": rows}, option=orjson.OPT_INDENT_2).decode())
        return 0
    print(render_price_table(table))
    return 0


def cmd_usage(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    now = time.time()
    period = month_of(now, settings.org.timezone)

    async def fetch(store: Store) -> tuple[list[UsageGroup], list[Pause], list[ClientKey]]:
        # The store's exact roll-ups answer this in milliseconds on a big ledger.
        groups = await store.usage_summary(period.start_ts, period.end_ts, SPEND_DIMENSIONS)
        pauses = [p for p in await store.list_pauses() if p.active(now)]
        keys = [k for k in await store.list_client_keys() if k.budget_pusd is not None]
        return groups, pauses, keys

    groups, pauses, budgeted_keys = with_store(settings, fetch)
    spent, requests = settled_by_scope(groups), requests_by_scope(groups)
    reserved, source = _open_reservations(settings, args.url)

    def row(scope: str, kind: str, name: str | None, budget: Decimal | int | None) -> None:
        pico = usd_to_pico(budget) if isinstance(budget, Decimal) else budget
        held = reserved.get(scope, 0) if reserved is not None else None
        rows.append(
            _row(
                kind,
                scope_team(scope),
                name,
                spent.get(scope, 0),
                requests.get(scope, 0),
                pico,
                held,
            )
        )

    rows: list[dict[str, Any]] = []
    for name, team in settings.teams.items():
        row(f"team:{name}", "team", name, team.monthly_budget_usd)
    row("org", "org", None, settings.org.monthly_budget_usd)
    for name, team in settings.teams.items():  # sub-budgets: environments, then keys
        for env_name, env in team.environments.items():
            if env.monthly_budget_usd is not None:
                row(
                    f"env:{name}/{env_name}",
                    "environment",
                    f"{name}/{env_name}",
                    env.monthly_budget_usd,
                )
    for key in budgeted_keys:
        row(key_scope(key.name), "key", key.name, key.budget_pusd)
    if args.json:
        out = {
            "period": period.key,
            "timezone": settings.org.timezone,
            "generated_at": iso_time(now),
            "reservations_from": source if reserved is not None else None,
            "reservations_note": None if reserved is not None else source,
            "scopes": rows,
            "pauses": [pause_json(p, now) for p in pauses],
        }
        print(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
        return 0
    print(f"Month to date: {period.key} ({settings.org.timezone}), as of {when(now)}")
    header = ("scope", "requests", "spent", "reserved", "budget", "used")
    table = [
        (
            (r["name"] or "org") if r["scope"] in ("team", "org") else f"{r['scope']} {r['name']}",
            f"{r['requests']:,}",
            format_usd(r["spent_pusd"]),
            format_usd(r["reserved_pusd"]) if r["reserved_pusd"] is not None else "-",
            format_usd(r["budget_pusd"]) if r["budget_pusd"] is not None else "-",
            percent(r["spent_pusd"], r["budget_pusd"]),
        )
        for r in rows
    ]
    print("\n".join(render_table(header, table, right=range(1, len(header)))))
    if reserved is None:
        print(f"reserved: - means not known: {source}")
    for p in pauses:  # the kill switches in force (teamgate pause / resume)
        end = f"until {iso_time(p.until)}" if p.until is not None else "until resumed"
        print(f"paused: {describe_scope(p.scope)} {end}, by {p.actor}: {p.reason}")
    return 0


def _open_reservations(settings: Settings, url: str | None) -> tuple[dict[str, int] | None, str]:
    """Reserved picodollars per scope (``team:T``, ``org``, ``env:T/E``, ``key:NAME``) from
    the running gateway, and where from.

    Reservations live in the gateway (or Redis), not in the ledger. When the gateway
    does not answer, the first item is None and the second says why (no admin key,
    nothing listening at the address: ``--url`` points elsewhere).
    """
    where = (url or admin_url(settings)).rstrip("/")
    try:
        answer = call_admin(settings, "GET", "/admin/budget", url=url, timeout_s=3)
    except AdminUnavailable as exc:
        return None, f"{exc} (pass --url for a gateway on another address)"
    reserved = {row["scope"]: int(row["reserved_pusd"]) for row in answer.get("scopes", [])}
    return reserved, f"the gateway at {where}"


def _row(
    scope: str,
    team: str | None,
    name: str | None,
    cost: int,
    requests: int,
    budget: int | None,
    reserved: int | None,
) -> dict[str, Any]:
    return {
        "scope": scope,
        "team": team,
        "name": name,
        "requests": requests,
        "spent_pusd": cost,
        "spent_usd": exact_usd(cost),
        "reserved_pusd": reserved,
        "reserved_usd": exact_usd(reserved),
        "budget_pusd": budget,
        "budget_usd": exact_usd(budget),
        "used_percent": None if not budget else percent(cost, budget).rstrip("%"),
    }
