"""Pause switches in :class:`~teamgate.ledger.postgres.store.PostgresStore` (a mixin).

The table comes from migration ``0006_pauses.sql``. Setting or clearing a pause bumps
``keys_version`` in the same transaction (every gateway sees it within a second).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from teamgate.ledger.pause_records import PAUSE_COLUMNS, Pause

_SELECT = f"SELECT {', '.join(PAUSE_COLUMNS)} FROM pauses"  # noqa: S608
_UPSERT = (
    f"INSERT INTO pauses ({', '.join(PAUSE_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(f'${i + 1}' for i in range(len(PAUSE_COLUMNS)))}) "
    "ON CONFLICT (scope) DO UPDATE SET reason = EXCLUDED.reason, until = EXCLUDED.until, "
    "paused_at = EXCLUDED.paused_at, actor = EXCLUDED.actor"
)
_DELETE = f"DELETE FROM pauses WHERE scope = $1 RETURNING {', '.join(PAUSE_COLUMNS)}"  # noqa: S608
_BUMP = "UPDATE meta SET value = value + 1 WHERE key = 'keys_version'"


class PostgresPauseTable:
    """``set_pause``, ``clear_pause`` and ``list_pauses`` over the store's pool."""

    _db: Callable[[], Any]

    async def set_pause(self, pause: Pause) -> Pause | None:
        """Pause a scope (replacing its pause, if any); the pause it replaced."""
        async with self._db().acquire() as conn, conn.transaction():
            row = await conn.fetchrow(f"{_SELECT} WHERE scope = $1 FOR UPDATE", pause.scope)
            await conn.execute(_UPSERT, *[getattr(pause, c) for c in PAUSE_COLUMNS])
            await conn.execute(_BUMP)
        return None if row is None else Pause(*row)

    async def clear_pause(self, scope: str) -> Pause | None:
        """Resume a scope; the pause it removed, None if it was not paused."""
        async with self._db().acquire() as conn, conn.transaction():
            row = await conn.fetchrow(_DELETE, scope)
            if row is not None:
                await conn.execute(_BUMP)
        return None if row is None else Pause(*row)

    async def list_pauses(self) -> list[Pause]:
        """Every stored pause (expired ones too), by scope."""
        async with self._db().acquire() as conn:
            rows = await conn.fetch(f"{_SELECT} ORDER BY scope")
        return [Pause(*row) for row in rows]
