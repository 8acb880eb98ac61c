"""Dashboard sessions in :class:`~teamgate.ledger.postgres.store.PostgresStore` (a mixin).

The table comes from migration ``0008_dashboard_sessions.sql``: every instance on the
database sees the same sessions, so a second instance or a restart logs nobody out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from teamgate.ledger.session_records import SESSION_COLUMNS, DashboardSession
from teamgate.ledger.sqlite.sessions import session_from_row, session_row

_INSERT = (
    f"INSERT INTO dashboard_sessions ({', '.join(SESSION_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(f'${i + 1}' for i in range(len(SESSION_COLUMNS)))})"
)
_LIVE = (
    f"SELECT {', '.join(SESSION_COLUMNS)} FROM dashboard_sessions "  # noqa: S608
    "WHERE id_hash = $1 AND expires_at > $2 AND revoked_at IS NULL"
)
_REVOKE = (
    "UPDATE dashboard_sessions SET revoked_at = $2 "  # noqa: S608
    "WHERE id_hash = $1 AND expires_at > $2 AND revoked_at IS NULL "
    f"RETURNING {', '.join(SESSION_COLUMNS)}"
)


class PostgresSessionTable:
    """``add_dashboard_session``, ``dashboard_session`` and ``revoke_dashboard_session``."""

    _db: Callable[[], Any]

    async def add_dashboard_session(self, session: DashboardSession) -> None:
        """Store a new session, first purging those expired or revoked before ``created_at``."""
        async with self._db().acquire() as conn, conn.transaction():
            await conn.execute(
                "DELETE FROM dashboard_sessions WHERE expires_at <= $1 OR revoked_at <= $1",
                session.created_at,
            )
            await conn.execute(_INSERT, *session_row(session))

    async def dashboard_session(self, id_hash: str, now: float) -> DashboardSession | None:
        """The live session with this hash (not expired at ``now``, not revoked), else None."""
        async with self._db().acquire() as conn:
            row = await conn.fetchrow(_LIVE, id_hash, now)
        return None if row is None else session_from_row(row)

    async def revoke_dashboard_session(self, id_hash: str, at: float) -> DashboardSession | None:
        """End a live session (sign-out) on every instance; the session ended, else None."""
        async with self._db().acquire() as conn:
            row = await conn.fetchrow(_REVOKE, id_hash, at)
        return None if row is None else session_from_row(row)
