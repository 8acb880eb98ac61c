"""The audit trail in :class:`~teamgate.ledger.postgres.store.PostgresStore` (a mixin).

The table comes from migration ``0005_audit_log.sql``; triggers make it append-only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from teamgate.ledger.audit_records import AUDIT_COLUMNS, AuditEntry

_INSERT = (
    f"INSERT INTO audit_log ({', '.join(AUDIT_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(f'${i + 1}' for i in range(len(AUDIT_COLUMNS)))}) RETURNING id"
)
_SELECT = (
    f"SELECT {', '.join(AUDIT_COLUMNS)}, id FROM audit_log "  # noqa: S608
    "WHERE ts >= $1 AND id < $2 ORDER BY id DESC LIMIT $3"
)


class PostgresAuditTable:
    """``append_audit`` and ``audit_entries`` over the store's pool."""

    _db: Callable[[], Any]

    async def append_audit(self, entry: AuditEntry) -> int:
        """Store one entry; its id."""
        async with self._db().acquire() as conn:
            value = await conn.fetchval(_INSERT, *[getattr(entry, c) for c in AUDIT_COLUMNS])
        return int(value)

    async def audit_entries(
        self, *, since: float = 0.0, before_id: int | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """Entries at or after ``since``, newest first, below ``before_id`` (paging)."""
        cursor = 2**63 - 1 if before_id is None else before_id
        async with self._db().acquire() as conn:
            rows = await conn.fetch(_SELECT, since, cursor, limit)
        return [AuditEntry(*row) for row in rows]
