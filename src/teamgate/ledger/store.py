"""The storage protocol every backend (SQLite and PostgreSQL) implements.

A store holds client keys, the usage ledger, alert state and upstream key state.
It is opened in the app's lifespan and closed there. All methods are async;
a backend that blocks (sqlite3) runs them on its own single writer thread.

The shared test suite in ``tests/unit/ledger/test_store_contract.py`` runs against
every backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, Unpack

from teamgate.ledger.audit_records import AuditEntry
from teamgate.ledger.owned import ObjectKind, OwnedObject
from teamgate.ledger.pause_records import Pause
from teamgate.ledger.records import ClientKey, UsageRecord
from teamgate.ledger.session_records import DashboardSession
from teamgate.ledger.summary import GroupBy, SummaryOptions, UsageGroup
from teamgate.ledger.upstream_records import (
    UpstreamKeyState,
    UpstreamKeyUsage,
    UpstreamUsageDelta,
)


class Store(Protocol):
    async def open(self) -> None:
        """Connect and create or check the schema."""

    async def close(self) -> None: ...

    # --- client keys -------------------------------------------------------
    async def add_client_key(self, key: ClientKey) -> None:
        """Store a new key; raises ``KeyError`` if the name is taken by a live key."""

    async def get_client_key(self, name: str) -> ClientKey | None: ...

    async def list_client_keys(self, *, include_revoked: bool = False) -> list[ClientKey]: ...

    async def revoke_client_key(self, name: str, at: float) -> bool:
        """Mark revoked; False if no such live key."""

    async def touch_client_keys(self, last_used: dict[str, float]) -> None:
        """Record last-use times, batched by the caller (name -> unix time)."""

    async def client_keys_version(self) -> int:
        """A number that changes whenever any key is added, revoked or expired.

        Gateways poll it (cheaply) to refresh their key cache within seconds.
        """

    async def ping(self) -> None:
        """Raise when the store cannot be reached; the readiness probe.

        Never waits behind the ledger's writes: a gateway busy writing is ready.
        """

    # --- usage ledger --------------------------------------------------------
    async def append_usage(self, records: Sequence[UsageRecord]) -> None:
        """Write a batch of records in one transaction (all or none)."""

    async def usage_records(self, start: float, end: float) -> list[UsageRecord]:
        """Every record in [start, end), oldest first (reports, tests)."""

    # --- client key rotation --------------------------------------------------------
    async def rotate_client_key(
        self, successor: ClientKey, *, old_name_after: str, old_expires_at: float
    ) -> bool:
        """In one transaction: rename the live key ``successor.name`` to ``old_name_after``,
        set (or bring forward) its expiry to ``old_expires_at``, and add ``successor``.

        False (and nothing changed) if there is no live key of that name; ``KeyError``
        if ``old_name_after`` is taken by a live key.
        """

    # --- upstream keys ---------------------------------------------------------------
    async def set_upstream_key_states(self, states: Sequence[UpstreamKeyState]) -> None:
        """Insert or replace the state of each key (by name), in one transaction."""

    async def upstream_key_states(self) -> list[UpstreamKeyState]:
        """Every stored upstream key state, by project, preferred order, then name."""

    async def upstream_state_version(self) -> int:
        """A number that changes whenever :meth:`set_upstream_key_states` writes.

        Gateways poll it every second to pick up rotations without a restart.
        """

    async def record_upstream_usage(self, usage: dict[str, UpstreamUsageDelta]) -> None:
        """Add a batch of per-key request counts (name -> delta), in one transaction."""

    async def upstream_key_usage(self, now: float) -> list[UpstreamKeyUsage]:
        """Totals per upstream key that ever sent a request, by name.

        ``requests_24h`` counts the hourly buckets that overlap ``(now - 24 h, now]``.
        """

    async def usage_summary(
        self, start: float, end: float, group_by: GroupBy = (), **options: Unpack[SummaryOptions]
    ) -> list[UsageGroup]:
        """Sums per group of the records in [start, end), sorted by group values.

        ``group_by`` dimensions are in ``teamgate.ledger.summary.SUMMARY_DIMENSIONS``
        (``day`` is the calendar day in ``tz``); ``team`` restricts to one team. The
        store groups (SQL ``GROUP BY``); sums are exact. Groups with no records are
        absent; with no dimensions the answer is one group, or none for no records.
        """

    async def usage_page(
        self, start: float, end: float, after: int = 0, limit: int = 10_000
    ) -> tuple[list[UsageRecord], int]:
        """A page of records in [start, end) after the opaque cursor ``after`` (0 first),
        and the cursor for the next page; an empty list at the end (exports)."""

    async def count_usage(self, start: float, end: float) -> int:
        """How many records fall in [start, end) (cheap: progress bars)."""

    # --- pause switches (see pause_records.py) -------------------------------------
    async def set_pause(self, pause: Pause) -> Pause | None:
        """Pause a scope, replacing its pause if any (bumps ``client_keys_version``);
        the pause it replaced."""

    async def clear_pause(self, scope: str) -> Pause | None:
        """Resume a scope (bumps ``client_keys_version``); the pause removed, or None."""

    async def list_pauses(self) -> list[Pause]:
        """Every stored pause, expired ones too, by scope."""

    # --- dashboard sessions (see session_records.py) ---------------------------------
    async def add_dashboard_session(self, session: DashboardSession) -> None:
        """Store a new session (purging those expired or revoked before it was made)."""

    async def dashboard_session(self, id_hash: str, now: float) -> DashboardSession | None:
        """The live session with this id hash at ``now`` (not expired, not revoked)."""

    async def revoke_dashboard_session(self, id_hash: str, at: float) -> DashboardSession | None:
        """End a live session on every instance (sign-out); the session ended, or None."""

    # --- alert state -------------------------------------------------------------
    async def mark_alert_fired(self, scope: str, period: str, threshold: str) -> bool:
        """Record that an alert fired; True only the first time for (scope, period, threshold)."""

    async def alerts_fired(self, scope: str, period: str) -> list[str]:
        """The ``threshold`` marks recorded for (scope, period), sorted."""

    # --- owned Groq files and batches ---------------------------------------------
    async def add_owned_object(self, obj: OwnedObject) -> None:
        """Record a file or batch as the team's; a second add of the same id is ignored."""

    async def get_owned_object(self, kind: ObjectKind, object_id: str) -> OwnedObject | None:
        """The object's row, or None if teamgate never saw it."""

    async def list_owned_objects(self, kind: ObjectKind, team: str) -> list[OwnedObject]:
        """The team's objects of that kind, oldest first."""

    async def delete_owned_object(self, kind: ObjectKind, object_id: str) -> bool:
        """Forget an object (a deleted file); False if there was none."""

    async def settle_owned_object(
        self, kind: ObjectKind, object_id: str, at: float, records: Sequence[UsageRecord]
    ) -> bool:
        """In ONE transaction: mark the object settled and append ``records`` to the ledger.

        True only the first time; otherwise nothing is written (so a batch is charged
        exactly once even with several gateways settling it at the same moment, and a
        crash can never leave it marked settled without its ledger rows).
        """

    # --- the audit trail (append-only; see audit_records.py) -------------------------
    async def append_audit(self, entry: AuditEntry) -> int:
        """Store one audit entry (its ``id`` is ignored); the id it was given."""

    async def audit_entries(
        self, *, since: float = 0.0, before_id: int | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """Entries at or after ``since``, newest first; ``before_id`` pages back."""
