"""Dashboard sessions in :class:`~teamgate.ledger.sqlite.store.SQLiteStore` (a mixin).

Every gateway process on the same file sees the same sessions, so a restart logs
nobody out. Teams are stored as a JSON list.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable
from typing import Any

import orjson

from teamgate.ledger.session_records import SESSION_COLUMNS, DashboardSession
from teamgate.ledger.sqlite.transaction import immediate

SESSION_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS dashboard_sessions (
        id_hash TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        teams TEXT NOT NULL,
        org INTEGER NOT NULL,
        via TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        revoked_at REAL
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS dashboard_sessions_expires ON dashboard_sessions (expires_at)",
)
_INSERT = (
    f"INSERT INTO dashboard_sessions ({', '.join(SESSION_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join('?' for _ in SESSION_COLUMNS)})"
)
_SELECT = f"SELECT {', '.join(SESSION_COLUMNS)} FROM dashboard_sessions"  # noqa: S608


def session_row(session: DashboardSession) -> list[Any]:
    """The stored values of ``session`` (teams as a JSON list), in column order."""
    values = [getattr(session, c) for c in SESSION_COLUMNS]
    values[SESSION_COLUMNS.index("teams")] = orjson.dumps(list(session.teams)).decode()
    return values


def session_from_row(row: Any) -> DashboardSession:
    values = list(row)
    values[SESSION_COLUMNS.index("teams")] = tuple(orjson.loads(row[3]))
    values[SESSION_COLUMNS.index("org")] = bool(row[4])
    return DashboardSession(*values)


def ensure_session_table(conn: sqlite3.Connection) -> None:
    for statement in SESSION_SCHEMA:
        conn.execute(statement)


class SQLiteSessionTable:
    """``add_dashboard_session``, ``dashboard_session`` and ``revoke_dashboard_session``."""

    _run: Callable[..., Any]
    _db: Callable[[], sqlite3.Connection]

    async def add_dashboard_session(self, session: DashboardSession) -> None:
        """Store a new session, first purging those expired or revoked before ``created_at``."""
        await self._run(self._add_session, session)

    def _add_session(self, session: DashboardSession) -> None:
        conn = self._db()
        with immediate(conn):
            conn.execute(
                "DELETE FROM dashboard_sessions WHERE expires_at <= ? OR revoked_at <= ?",
                (session.created_at, session.created_at),
            )
            conn.execute(_INSERT, session_row(session))

    async def dashboard_session(self, id_hash: str, now: float) -> DashboardSession | None:
        """The live session with this hash (not expired at ``now``, not revoked), else None."""
        result: DashboardSession | None = await self._run(self._get_session, id_hash, now)
        return result

    def _get_session(self, id_hash: str, now: float) -> DashboardSession | None:
        row = (
            self._db()
            .execute(
                f"{_SELECT} WHERE id_hash = ? AND expires_at > ? AND revoked_at IS NULL",
                (id_hash, now),
            )
            .fetchone()
        )
        return None if row is None else session_from_row(row)

    async def revoke_dashboard_session(self, id_hash: str, at: float) -> DashboardSession | None:
        """End a live session (sign-out) on every instance; the session ended, else None."""
        result: DashboardSession | None = await self._run(self._revoke_session, id_hash, at)
        return result

    def _revoke_session(self, id_hash: str, at: float) -> DashboardSession | None:
        conn = self._db()
        with immediate(conn):
            found = self._get_session(id_hash, at)
            if found is not None:
                conn.execute(
                    "UPDATE dashboard_sessions SET revoked_at = ? WHERE id_hash = ?", (at, id_hash)
                )
        return None if found is None else dataclasses.replace(found, revoked_at=at)
