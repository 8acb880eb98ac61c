"""Pause switches in :class:`~teamgate.ledger.sqlite.store.SQLiteStore` (a mixin).

Setting or clearing a pause bumps ``keys_version`` in the same transaction, so every
gateway's key cache (which polls that number every second) picks it up at once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from teamgate.ledger.pause_records import PAUSE_COLUMNS, Pause
from teamgate.ledger.sqlite.transaction import immediate

PAUSE_SCHEMA = """
CREATE TABLE IF NOT EXISTS pauses (
    scope TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    until REAL,
    paused_at REAL NOT NULL,
    actor TEXT NOT NULL
) WITHOUT ROWID
"""
_UPSERT = (
    f"INSERT OR REPLACE INTO pauses ({', '.join(PAUSE_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join('?' for _ in PAUSE_COLUMNS)})"
)
_SELECT = f"SELECT {', '.join(PAUSE_COLUMNS)} FROM pauses"  # noqa: S608
_BUMP = "UPDATE meta SET value = value + 1 WHERE key = 'keys_version'"


class SQLitePauseTable:
    """``set_pause``, ``clear_pause`` and ``list_pauses`` on the store's writer thread."""

    _run: Callable[..., Any]
    _db: Callable[[], sqlite3.Connection]

    async def set_pause(self, pause: Pause) -> Pause | None:
        """Pause a scope (replacing its pause, if any); the pause it replaced."""
        result: Pause | None = await self._run(self._set_pause, pause)
        return result

    def _set_pause(self, pause: Pause) -> Pause | None:
        conn = self._db()
        with immediate(conn):
            row = conn.execute(f"{_SELECT} WHERE scope = ?", (pause.scope,)).fetchone()
            conn.execute(_UPSERT, [getattr(pause, c) for c in PAUSE_COLUMNS])
            conn.execute(_BUMP)
        return None if row is None else Pause(*row)

    async def clear_pause(self, scope: str) -> Pause | None:
        """Resume a scope; the pause it removed, None if it was not paused."""
        result: Pause | None = await self._run(self._clear_pause, scope)
        return result

    def _clear_pause(self, scope: str) -> Pause | None:
        conn = self._db()
        with immediate(conn):
            row = conn.execute(f"{_SELECT} WHERE scope = ?", (scope,)).fetchone()
            if row is not None:
                conn.execute("DELETE FROM pauses WHERE scope = ?", (scope,))
                conn.execute(_BUMP)
        return None if row is None else Pause(*row)

    async def list_pauses(self) -> list[Pause]:
        """Every stored pause (expired ones too), by scope."""
        result: list[Pause] = await self._run(self._list_pauses)
        return result

    def _list_pauses(self) -> list[Pause]:
        return [Pause(*row) for row in self._db().execute(f"{_SELECT} ORDER BY scope")]
