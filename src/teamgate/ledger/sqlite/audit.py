"""The audit trail in :class:`~teamgate.ledger.sqlite.store.SQLiteStore` (a mixin).

``audit_log`` is created on open like every SQLite table; triggers refuse any
UPDATE or DELETE, so the table is append-only even to someone with the file
and the sqlite3 shell who does not first drop the triggers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from teamgate.ledger.audit_records import AUDIT_COLUMNS, AuditEntry

AUDIT_STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts REAL NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        before TEXT NOT NULL,
        after TEXT NOT NULL,
        source TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS audit_log_ts ON audit_log (ts)",
    """CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
)
_INSERT = (
    f"INSERT INTO audit_log ({', '.join(AUDIT_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join('?' for _ in AUDIT_COLUMNS)})"
)
_SELECT = f"SELECT {', '.join(AUDIT_COLUMNS)}, id FROM audit_log"  # noqa: S608


def ensure_audit_table(conn: sqlite3.Connection) -> None:
    for statement in AUDIT_STATEMENTS:
        conn.execute(statement)


class SQLiteAuditTable:
    """``append_audit`` and ``audit_entries`` on the store's writer thread."""

    _run: Callable[..., Any]
    _db: Callable[[], sqlite3.Connection]

    async def append_audit(self, entry: AuditEntry) -> int:
        """Store one entry; its id."""
        result: int = await self._run(self._append_audit, entry)
        return result

    def _append_audit(self, entry: AuditEntry) -> int:
        cursor = self._db().execute(_INSERT, [getattr(entry, c) for c in AUDIT_COLUMNS])
        return int(cursor.lastrowid or 0)

    async def audit_entries(
        self, *, since: float = 0.0, before_id: int | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """Entries at or after ``since``, newest first, below ``before_id`` (paging)."""
        result: list[AuditEntry] = await self._run(self._audit_entries, since, before_id, limit)
        return result

    def _audit_entries(self, since: float, before_id: int | None, limit: int) -> list[AuditEntry]:
        cursor = 2**63 - 1 if before_id is None else before_id
        rows = self._db().execute(
            f"{_SELECT} WHERE ts >= ? AND id < ? ORDER BY id DESC LIMIT ?",
            (since, cursor, limit),
        )
        return [AuditEntry(*row) for row in rows]
