"""The SQLite store's tables: created on open, older files brought up to date in place.

Tables whose rows are records (usage, client keys, owned objects, the audit trail,
pauses, dashboard sessions, upstream key states) are declared by the record's own
fields (:func:`teamgate.ledger.sql.sqlite_table`); the rest is written here. A file
is version ``SCHEMA_VERSION``; later columns are added with ``ALTER TABLE`` when
missing (a file from before attribution or per-key budgets), and the roll-up is
filled the first time (``ledger/sqlite/summary.py``).

>>> import sqlite3
>>> conn = sqlite3.connect(":memory:", isolation_level=None)
>>> create_tables(conn)
>>> [r[1] for r in conn.execute("PRAGMA table_info(pauses)")]
['scope', 'reason', 'until', 'paused_at', 'actor']
"""

from __future__ import annotations

import sqlite3

from teamgate.ledger.audit_records import AuditEntry
from teamgate.ledger.owned import OwnedObject
from teamgate.ledger.pause_records import Pause
from teamgate.ledger.records import ClientKey, UsageRecord
from teamgate.ledger.session_records import DashboardSession
from teamgate.ledger.sql import sqlite_table
from teamgate.ledger.sqlite.transaction import immediate
from teamgate.ledger.upstream_records import UpstreamKeyState

SCHEMA_VERSION = 1

_APPEND_ONLY = "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"

STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID""",
    "INSERT OR IGNORE INTO meta (key, value) VALUES ('keys_version', 0)",
    "INSERT OR IGNORE INTO meta (key, value) VALUES ('upstream_version', 0)",
    sqlite_table(
        "client_keys", ClientKey, first="id INTEGER PRIMARY KEY", last="UNIQUE (key_hash)"
    ),
    "CREATE UNIQUE INDEX IF NOT EXISTS client_keys_live_name "
    "ON client_keys (name) WHERE revoked_at IS NULL",
    sqlite_table(
        "usage", UsageRecord, first="id INTEGER PRIMARY KEY", defaults=("end_user", "tags")
    ),
    "CREATE INDEX IF NOT EXISTS usage_ts ON usage (ts, team, cost_pusd)",  # per-team sums
    "CREATE INDEX IF NOT EXISTS usage_team_ts ON usage (team, ts)",
    sqlite_table(
        "owned_objects", OwnedObject, last="PRIMARY KEY (kind, object_id)", without_rowid=True
    ),
    "CREATE INDEX IF NOT EXISTS owned_objects_team ON owned_objects (kind, team, created_at)",
    """CREATE TABLE IF NOT EXISTS alerts_fired (
    scope TEXT NOT NULL,
    period TEXT NOT NULL,
    threshold TEXT NOT NULL,
    fired_at REAL NOT NULL,
    PRIMARY KEY (scope, period, threshold)
) WITHOUT ROWID""",
    sqlite_table("upstream_keys", UpstreamKeyState, last="PRIMARY KEY (name)", without_rowid=True),
    """CREATE TABLE IF NOT EXISTS upstream_usage (
    name TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    requests INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    first_used_at REAL,
    last_used_at REAL
) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS upstream_usage_hourly (
    name TEXT NOT NULL,
    hour INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    PRIMARY KEY (name, hour)
) WITHOUT ROWID""",
    # The audit trail: triggers refuse any UPDATE or DELETE, so the table is append-only
    # even to someone with the file and the sqlite3 shell who does not drop them first.
    sqlite_table(
        "audit_log", AuditEntry, first="id INTEGER PRIMARY KEY AUTOINCREMENT", skip=("id",)
    ),
    "CREATE INDEX IF NOT EXISTS audit_log_ts ON audit_log (ts)",
    f"CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log {_APPEND_ONLY}",
    f"CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log {_APPEND_ONLY}",
    sqlite_table("pauses", Pause, last="PRIMARY KEY (scope)", without_rowid=True),
    sqlite_table(
        "dashboard_sessions", DashboardSession, last="PRIMARY KEY (id_hash)", without_rowid=True
    ),
    "CREATE INDEX IF NOT EXISTS dashboard_sessions_expires ON dashboard_sessions (expires_at)",
)

# Columns added after the first release: (table, column, its declaration).
_LATER_COLUMNS = (
    ("usage", "end_user", "TEXT NOT NULL DEFAULT ''"),  # attribution; older rows: none
    ("usage", "tags", "TEXT NOT NULL DEFAULT ''"),
    ("client_keys", "budget_pusd", "INTEGER"),  # per-key budgets; older keys: none
)


class UnknownSchemaVersion(RuntimeError):
    """The database was written by a teamgate with another schema; refuse to use it."""


def check_version(conn: sqlite3.Connection, path: str) -> None:
    """Refuse a file written by a teamgate with another schema version."""
    has_meta = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    if has_meta is None:
        return
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is not None and row[0] != SCHEMA_VERSION:
        raise UnknownSchemaVersion(
            f"{path}: schema version {row[0]} is not known to this teamgate "
            f"(it knows version {SCHEMA_VERSION})"
        )


def create_tables(conn: sqlite3.Connection) -> None:
    """Create what is missing and add later columns to older tables, in one transaction."""
    with immediate(conn):
        for statement in STATEMENTS:
            conn.execute(statement)
        for table, column, declaration in _LATER_COLUMNS:
            have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            if column not in have:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
            (SCHEMA_VERSION,),
        )
