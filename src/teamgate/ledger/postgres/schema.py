"""PostgreSQL schema versions: the migrations teamgate knows, applying them, checking them.

Migrations are the SQL files in :mod:`teamgate.ledger.migrations`, named
``NNNN_name.sql``; version ``N`` is applied once, in one transaction, and
recorded in ``schema_migrations``. ``teamgate migrate`` applies what is missing;
a gateway only *checks* at start-up and refuses a database that has no
teamgate schema, an older one, or one newer than it knows (:class:`SchemaMismatch`).

>>> [m.version for m in known_migrations()][:1]
[1]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Protocol

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Serializes concurrent `teamgate migrate` runs (an arbitrary constant: "tgate").
_ADVISORY_LOCK = 0x7467617465

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


class SchemaMismatch(RuntimeError):
    """The database schema is missing, older or newer than this teamgate's; the message says why."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


class _Connection(Protocol):  # the part of asyncpg.Connection used here
    async def execute(self, query: str, *args: object) -> str: ...
    async def fetchval(self, query: str, *args: object) -> object: ...
    def transaction(self) -> object: ...


def known_migrations() -> list[Migration]:
    """Every migration shipped with this teamgate, by version."""
    found = []
    for entry in resources.files("teamgate.ledger.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    # No gaps: a database migrated to N would never apply a lower number added later.
    if versions != list(range(1, len(versions) + 1)):
        raise RuntimeError(f"migrations are not numbered 1, 2, ...: {versions}")
    return found


def latest_version() -> int:
    return known_migrations()[-1].version


async def current_version(conn: _Connection) -> int | None:
    """The applied schema version, or None when there is no teamgate schema here."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return None
    version = await conn.fetchval("SELECT max(version) FROM schema_migrations")
    return None if version is None else int(str(version))


async def check_schema(conn: _Connection, where: str) -> int:
    """The version if it is exactly this teamgate's; else :class:`SchemaMismatch`."""
    latest = latest_version()
    version = await current_version(conn)
    if version is None:
        raise SchemaMismatch(
            f"{where}: no teamgate schema in this database; "
            "run `teamgate migrate --config FILE` first"
        )
    if version > latest:
        raise SchemaMismatch(
            f"{where}: schema version {version} is newer than this teamgate knows "
            f"(up to {latest}); upgrade teamgate, or point it at another database"
        )
    if version < latest:
        raise SchemaMismatch(
            f"{where}: schema version {version} is older than this teamgate's ({latest}); "
            "run `teamgate migrate --config FILE`"
        )
    return version


async def migrate(conn: _Connection) -> list[Migration]:
    """Apply every missing migration, each in its own transaction; returns those applied.

    Refuses (:class:`SchemaMismatch`) a database newer than this teamgate.
    """
    await conn.execute("SELECT pg_advisory_lock($1)", _ADVISORY_LOCK)
    try:
        await conn.execute(_CREATE_TABLE)
        version = await current_version(conn) or 0
        migrations = known_migrations()
        if version > migrations[-1].version:
            raise SchemaMismatch(
                f"schema version {version} is newer than this teamgate knows "
                f"(up to {migrations[-1].version})"
            )
        applied = []
        for migration in migrations:
            if migration.version <= version:
                continue
            async with conn.transaction():  # type: ignore[attr-defined]
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
            applied.append(migration)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _ADVISORY_LOCK)
