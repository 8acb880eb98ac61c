"""``teamgate audit``: the audit trail; and the one helper state-changing commands record with.

    teamgate audit --since 7d            # a table, newest first
    teamgate audit --since 2026-11-01 --json

Every state-changing CLI command (``keys create|revoke|rotate``,
``upstream rotate|retire``, ``reload``, ``migrate``) leaves one row through
:func:`record_cli`, as ``cli:<user>@<host>``.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import Any

import orjson

from teamgate.cli.options import add_config, fail, settings_from, with_store
from teamgate.ledger.audit_records import AuditEntry, cli_actor
from teamgate.ledger.store import Store
from teamgate.text.table import render_table


def add_commands(sub: Any) -> None:
    parser = sub.add_parser("audit", help="the audit trail: who changed what, when, from where")
    add_config(parser)
    parser.add_argument(
        "--since", help="unix seconds, YYYY-MM-DD, ISO 8601, or a duration back (24h, 7d)"
    )
    parser.add_argument("--limit", type=int, default=1000, help="at most this many rows")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(func=cmd_audit)


async def record_cli(
    store: Store,
    action: str,
    target: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """One audit row for a CLI command that changed something (never pass a secret)."""
    await store.append_audit(
        AuditEntry.new(cli_actor(), action, target, before=before, after=after, source="cli")
    )


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _values(text: str) -> str:
    values = orjson.loads(text)
    return ", ".join(f"{k}={v}" for k, v in values.items()) if values else "-"


def cmd_audit(args: argparse.Namespace) -> int:
    from teamgate.admin.audit_api import parse_since

    settings = settings_from(args)
    since = 0.0
    if args.since:
        try:
            since = parse_since(args.since, settings.org.timezone, now=time.time())
        except (ValueError, OverflowError) as exc:
            return fail(f"--since: {exc}")

    async def fetch(store: Store) -> list[AuditEntry]:
        return await store.audit_entries(since=since, limit=max(1, args.limit))

    entries = with_store(settings, fetch)
    if args.json:
        for entry in entries:
            print(orjson.dumps(entry.as_json()).decode())
        return 0
    if not entries:
        print("(no audit entries)")
        return 0
    rows = [
        (_when(e.ts), e.actor, e.action, e.target, _values(e.before), _values(e.after), e.source)
        for e in entries
    ]
    header = ("time (UTC)", "actor", "action", "target", "before", "after", "source")
    print("\n".join(render_table(header, rows)))
    return 0
