"""The part of the :class:`~teamgate.ledger.store.Store` that is the same SQL on both stores.

A mixin over four primitives each store provides: ``_dialect`` (how it spells the
shared statements, :mod:`teamgate.ledger.sql`), ``_fetch`` (rows of one statement),
``_execute`` (rows changed by one statement) and ``_apply`` (a
:mod:`teamgate.ledger.rules` rule in one transaction). What differs between the
stores stays with them: opening, writing usage in bulk (multi-row INSERTs or
``COPY``), grouped sums, upstream usage counters, the readiness probe.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from teamgate.ledger import rules, sql
from teamgate.ledger.audit_records import AUDIT_COLUMNS, AuditEntry
from teamgate.ledger.owned import ObjectKind, OwnedObject
from teamgate.ledger.pause_records import Pause
from teamgate.ledger.records import ClientKey, UsageRecord
from teamgate.ledger.rollup import Runs, SummaryPlan, groups_from_rows, offset_runs, plan_summary
from teamgate.ledger.session_records import DashboardSession
from teamgate.ledger.summary import GroupBy, UsageGroup, check_dimensions
from teamgate.ledger.upstream_records import UpstreamKeyState, UpstreamKeyUsage

_T = TypeVar("_T")


class SharedQueries:
    """Client keys, alerts, owned objects, audit, pauses, sessions, upstream states."""

    _dialect: sql.Dialect

    async def _fetch(self, template: str, *params: Any) -> Sequence[Sequence[Any]]:
        raise NotImplementedError

    async def _execute(self, template: str, *params: Any) -> int:
        raise NotImplementedError

    async def _apply(self, rule: rules.Rule[_T]) -> _T:
        raise NotImplementedError

    async def _value(self, template: str, *params: Any) -> Any:
        return (await self._fetch(template, *params))[0][0]

    # --- client keys ---------------------------------------------------------------------
    async def add_client_key(self, key: ClientKey) -> None:
        await self._apply(rules.add_client_key(key))

    async def get_client_key(self, name: str) -> ClientKey | None:
        """The non-revoked key of that name, else the most recently created revoked one."""
        rows = await self._fetch(sql.GET_KEY, name)
        return sql.key_from_row(rows[0]) if rows else None

    async def list_client_keys(self, *, include_revoked: bool = False) -> list[ClientKey]:
        """Keys by name then creation; expired keys are listed, revoked ones only on request."""
        rows = await self._fetch(sql.LIST_KEYS if include_revoked else sql.LIST_LIVE_KEYS)
        return [sql.key_from_row(row) for row in rows]

    async def revoke_client_key(self, name: str, at: float) -> bool:
        return await self._apply(rules.revoke_client_key(name, at))

    async def rotate_client_key(
        self, successor: ClientKey, *, old_name_after: str, old_expires_at: float
    ) -> bool:
        return await self._apply(rules.rotate_client_key(successor, old_name_after, old_expires_at))

    async def client_keys_version(self) -> int:
        return int(await self._value(sql.KEYS_VERSION))

    # --- the usage ledger ----------------------------------------------------------------
    async def append_usage(self, records: Sequence[UsageRecord]) -> None:
        """One transaction: the records (each store's fast bulk path) and their roll-up sums."""
        if records:
            await self._apply(rules.append_usage(list(records)))

    async def usage_records(self, start: float, end: float) -> list[UsageRecord]:
        rows = await self._fetch(sql.SELECT_USAGE_RANGE, start, end)
        return [sql.usage_from_row(row) for row in rows]

    async def usage_page(
        self, start: float, end: float, after: int = 0, limit: int = 10_000
    ) -> tuple[list[UsageRecord], int]:
        """Up to ``limit`` records in [start, end) in insertion (``id``) order after cursor
        ``after``; returns them and the cursor of the next page."""
        rows = await self._fetch(sql.SELECT_USAGE_PAGE, after, start, end, limit)
        if not rows:
            return [], after
        return [sql.usage_from_row(tuple(row)[1:]) for row in rows], int(rows[-1][0])

    async def _summary_rows(
        self, dims: Sequence[str], plan: SummaryPlan, runs: Runs, tz: str, team: str | None
    ) -> Sequence[Sequence[object]]:
        """The rows of the grouped query of ``plan`` (the store's own SQL)."""
        raise NotImplementedError

    async def usage_summary(
        self,
        start: float,
        end: float,
        group_by: GroupBy = (),
        *,
        tz: str = "UTC",
        team: str | None = None,
    ) -> list[UsageGroup]:
        """Sums per group in [start, end): whole buckets from the roll-up, the ends raw."""
        dims = check_dimensions(list(group_by))
        runs: Runs = []
        if "day" in dims:
            ZoneInfo(tz)  # an unknown zone fails here, on both stores
            ((lo, hi),) = await self._fetch(sql.TS_SPAN, start, end)
            if lo is None:
                return []
            runs = offset_runs(lo, hi + 1, tz)  # offsets over the span that holds records
        plan = plan_summary(start, end, dims, runs)
        if not plan.uses_rollup and not plan.raw_ranges:
            return []
        return groups_from_rows(await self._summary_rows(dims, plan, runs, tz, team), dims)

    async def count_usage(self, start: float, end: float) -> int:
        """How many records fall in [start, end), from the roll-up where it can."""
        groups = await self.usage_summary(start, end)
        return groups[0].requests if groups else 0

    # --- alert state ---------------------------------------------------------------------
    async def mark_alert_fired(self, scope: str, period: str, threshold: str) -> bool:
        return await self._execute(sql.MARK_ALERT, scope, period, threshold, time.time()) == 1

    async def alerts_fired(self, scope: str, period: str) -> list[str]:
        rows = await self._fetch(sql.ALERTS_FIRED, scope, period)
        return sorted(str(row[0]) for row in rows)  # code point order, any collation

    # --- owned Groq files and batches ----------------------------------------------------
    async def add_owned_object(self, obj: OwnedObject) -> None:
        await self._execute(sql.INSERT_OWNED, *(getattr(obj, c) for c in sql.OWNED_COLUMNS))

    async def get_owned_object(self, kind: ObjectKind, object_id: str) -> OwnedObject | None:
        rows = await self._fetch(sql.GET_OWNED, kind, object_id)
        return sql.owned_from_row(rows[0]) if rows else None

    async def list_owned_objects(self, kind: ObjectKind, team: str) -> list[OwnedObject]:
        return [sql.owned_from_row(row) for row in await self._fetch(sql.LIST_OWNED, kind, team)]

    async def delete_owned_object(self, kind: ObjectKind, object_id: str) -> bool:
        return await self._execute(sql.DELETE_OWNED, kind, object_id) == 1

    async def settle_owned_object(
        self, kind: ObjectKind, object_id: str, at: float, records: Sequence[UsageRecord]
    ) -> bool:
        rule = rules.settle_owned_object(kind, object_id, at, list(records))
        return await self._apply(rule)

    # --- the audit trail -----------------------------------------------------------------
    async def append_audit(self, entry: AuditEntry) -> int:
        """Store one entry; its id."""
        values = [getattr(entry, c) for c in AUDIT_COLUMNS]
        return int(await self._value(sql.INSERT_AUDIT, *values))

    async def audit_entries(
        self, *, since: float = 0.0, before_id: int | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """Entries at or after ``since``, newest first, below ``before_id`` (paging)."""
        cursor = 2**63 - 1 if before_id is None else before_id
        rows = await self._fetch(sql.SELECT_AUDIT, since, cursor, limit)
        return [sql.audit_from_row(row) for row in rows]

    # --- pauses --------------------------------------------------------------------------
    async def set_pause(self, pause: Pause) -> Pause | None:
        """Pause a scope (replacing its pause, if any); the pause it replaced."""
        return await self._apply(rules.set_pause(pause))

    async def clear_pause(self, scope: str) -> Pause | None:
        """Resume a scope; the pause it removed, None if it was not paused."""
        return await self._apply(rules.clear_pause(scope))

    async def list_pauses(self) -> list[Pause]:
        """Every stored pause (expired ones too), by scope."""
        return [Pause(*row) for row in await self._fetch(sql.SELECT_PAUSES)]

    # --- dashboard sessions --------------------------------------------------------------
    async def add_dashboard_session(self, session: DashboardSession) -> None:
        """Store a new session, first purging those expired or revoked before ``created_at``."""
        await self._apply(rules.add_dashboard_session(session))

    async def dashboard_session(self, id_hash: str, now: float) -> DashboardSession | None:
        """The live session with this hash (not expired at ``now``, not revoked), else None."""
        rows = await self._fetch(sql.LIVE_SESSION, id_hash, now)
        return sql.session_from_row(rows[0]) if rows else None

    async def revoke_dashboard_session(self, id_hash: str, at: float) -> DashboardSession | None:
        """End a live session (sign-out) on every instance; the session ended, else None."""
        rows = await self._fetch(sql.REVOKE_SESSION, id_hash, at)
        return sql.session_from_row(rows[0]) if rows else None

    # --- upstream key states -------------------------------------------------------------
    async def set_upstream_key_states(self, states: Sequence[UpstreamKeyState]) -> None:
        if states:
            await self._apply(rules.set_upstream_key_states(list(states)))

    async def upstream_key_states(self) -> list[UpstreamKeyState]:
        rows = await self._fetch(sql.SELECT_UPSTREAM_STATES)
        return [UpstreamKeyState(*row) for row in rows]

    async def upstream_state_version(self) -> int:
        return int(await self._value(sql.UPSTREAM_VERSION))

    async def upstream_key_usage(self, now: float) -> list[UpstreamKeyUsage]:
        since = now - 24 * sql.HOUR_S - sql.HOUR_S
        rows = await self._fetch(sql.UPSTREAM_USAGE, since, now)
        return [UpstreamKeyUsage.from_row(row) for row in rows]
