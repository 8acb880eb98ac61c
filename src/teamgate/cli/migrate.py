"""``teamgate migrate``: create or upgrade the database schema.

PostgreSQL: applies every missing migration (``ledger/migrations/NNNN_*.sql``),
each in its own transaction, under an advisory lock so that concurrent runs
are safe. A gateway never migrates by itself; it refuses to start until this
has run. SQLite creates and checks its own schema on open, so this only opens
the file.

    teamgate migrate --config teamgate.yaml
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import orjson

from teamgate.cli.audit import record_cli
from teamgate.cli.options import add_config, settings_from, with_store
from teamgate.config.extras import is_postgres_url
from teamgate.config.sections import redact_url
from teamgate.ledger import open_store
from teamgate.ledger.postgres.schema import SchemaMismatch, latest_version
from teamgate.ledger.store import Store


def add_commands(sub: Any) -> None:
    parser = sub.add_parser("migrate", help="create or upgrade the database schema")
    add_config(parser)
    parser.add_argument("--json", action="store_true", help='print {"migrated": true, "summary"}')
    parser.set_defaults(func=cmd_migrate)


async def run_migrate(url: str) -> str:
    """Migrate the store at ``url``; a one-line account of what was done."""
    store = open_store(url)
    if not is_postgres_url(url):
        await store.open()
        await store.close()
        return "SQLite schema is created and checked on open; nothing to migrate"
    from teamgate.ledger.postgres.store import PostgresStore  # open_store checked asyncpg

    assert isinstance(store, PostgresStore)
    applied = await store.migrate()
    if not applied:
        return f"{store!r}: schema is up to date (version {latest_version()})"
    versions = ", ".join(str(v) for v in applied)
    return f"{store!r}: applied migration(s) {versions}; schema version {latest_version()}"


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    try:
        summary = asyncio.run(run_migrate(settings.storage.url))

        async def audit(store: Store) -> None:
            await record_cli(
                store, "schema.migrate", redact_url(settings.storage.url), after={"result": summary}
            )

        with_store(settings, audit)
        if args.json:
            print(orjson.dumps({"migrated": True, "summary": summary}).decode())
        else:
            print(summary)
    except SchemaMismatch as exc:
        print(f"teamgate migrate: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"teamgate migrate: cannot reach the database: {exc}", file=sys.stderr)
        return 1
    return 0
