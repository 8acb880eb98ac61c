"""The ledger's multi-statement business rules, written once for both stores.

A rule is a generator: it yields the statements it needs (:class:`Fetch`,
:class:`Execute`, :class:`ExecuteMany`, :class:`AppendUsage`), receives each
one's result, and returns its answer; it does no I/O itself. Each store drives
rules inside ONE transaction of its own (SQLite on its writer thread, PostgreSQL
on a pooled connection) and throws a unique-index violation back into the rule
as :class:`UniqueViolation`, so what a conflict means is decided here, once.

>>> from teamgate.ledger.owned import OwnedObject
>>> rule = settle_owned_object("batch", "b1", 5.0, [])
>>> op = next(rule)
>>> op.params
(5.0, 'batch', 'b1')
>>> try:
...     rule.send(1)  # one row updated: settled now, nothing to append
... except StopIteration as done:
...     done.value
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from teamgate.ledger import sql
from teamgate.ledger.owned import ObjectKind
from teamgate.ledger.pause_records import PAUSE_COLUMNS, Pause
from teamgate.ledger.records import ClientKey, UsageRecord
from teamgate.ledger.session_records import DashboardSession
from teamgate.ledger.upstream_records import UpstreamKeyState

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Fetch:
    """Run a statement that returns rows (a ``SELECT`` or ``… RETURNING``); sends the rows."""

    template: str
    params: Sequence[Any] = ()


@dataclass(frozen=True, slots=True)
class Execute:
    """Run a statement; sends how many rows it changed."""

    template: str
    params: Sequence[Any] = ()


@dataclass(frozen=True, slots=True)
class ExecuteMany:
    """Run a statement once per parameter row, in order; sends None."""

    template: str
    rows: Sequence[Sequence[Any]]


@dataclass(frozen=True, slots=True)
class AppendUsage:
    """Write records to the ledger and its roll-up, the store's own fast way; sends None."""

    records: Sequence[UsageRecord]


Op = Fetch | Execute | ExecuteMany | AppendUsage
Rule = Generator[Op, Any, _T]


class UniqueViolation(Exception):
    """A statement broke a unique index; ``constraint`` names it (as PostgreSQL does)."""

    def __init__(self, constraint: str) -> None:
        super().__init__(constraint)
        self.constraint = constraint


def resume(
    rule: Rule[_T], result: object = None, error: UniqueViolation | None = None
) -> tuple[bool, Any]:
    """The rule's next step: ``(False, op)``, or ``(True, answer)`` once it returns."""
    try:
        return False, rule.throw(error) if error is not None else rule.send(result)
    except StopIteration as done:
        return True, done.value


def _taken(name: str) -> KeyError:
    return KeyError(f"a live client key is already named `{name}`")


def _same_hash(name: str) -> ValueError:
    return ValueError(f"client key `{name}`: a key with the same hash is already stored")


# --- client keys ------------------------------------------------------------------------
def add_client_key(key: ClientKey) -> Rule[None]:
    """Add ``key``; a live key of that name that has expired by ``key.created_at`` is
    retired first (revoked at its expiry). ``KeyError``: the name is live."""
    live = yield Fetch(sql.LIVE_KEY + "{for_update}", (key.name,))
    if live:
        key_id, expires_at = live[0]
        if expires_at is None or expires_at > key.created_at:
            raise _taken(key.name)
        yield Execute(sql.RETIRE_KEY, (key_id,))
    try:
        yield Execute(sql.INSERT_KEY, dataclasses.astuple(key))
    except UniqueViolation as exc:
        if exc.constraint == sql.LIVE_NAME_INDEX:  # a concurrent add won
            raise _taken(key.name) from None
        raise _same_hash(key.name) from None
    yield Execute(sql.BUMP_KEYS_VERSION)


def revoke_client_key(name: str, at: float) -> Rule[bool]:
    if (yield Execute(sql.REVOKE_KEY, (name, at))) == 0:
        return False
    yield Execute(sql.BUMP_KEYS_VERSION)
    return True


def rotate_client_key(successor: ClientKey, renamed: str, expires_at: float) -> Rule[bool]:
    """Rename the live key ``successor.name`` to ``renamed``, set or bring forward its
    expiry to ``expires_at``, add ``successor``. False if there is no such live key."""
    if (yield Fetch(sql.LIVE_KEY, (renamed,))):
        raise _taken(renamed)
    try:
        if (yield Execute(sql.RENAME_LIVE_KEY, (successor.name, renamed, expires_at))) == 0:
            return False
        yield Execute(sql.INSERT_KEY, dataclasses.astuple(successor))
    except UniqueViolation as exc:
        if exc.constraint == sql.LIVE_NAME_INDEX:  # a concurrent add won
            raise KeyError("a live client key took a name this rotation needs") from None
        raise _same_hash(successor.name) from None
    yield Execute(sql.BUMP_KEYS_VERSION)
    return True


# --- the usage ledger and owned objects -------------------------------------------------
def append_usage(records: Sequence[UsageRecord]) -> Rule[None]:
    """A batch of records and its roll-up sums, in one transaction."""
    yield AppendUsage(records)


def settle_owned_object(
    kind: ObjectKind, object_id: str, at: float, records: Sequence[UsageRecord]
) -> Rule[bool]:
    """Mark settled and append ``records``, together; False (nothing written) if the
    object was settled already or is unknown: the row's update decides between writers."""
    if (yield Execute(sql.SETTLE_OWNED, (at, kind, object_id))) != 1:
        return False
    if records:
        yield AppendUsage(records)
    return True


# --- pauses (each change bumps keys_version: every key cache picks it up) ---------------
def set_pause(pause: Pause) -> Rule[Pause | None]:
    before = yield Fetch(sql.PAUSE_OF, (pause.scope,))
    yield Execute(sql.SET_PAUSE, [getattr(pause, c) for c in PAUSE_COLUMNS])
    yield Execute(sql.BUMP_KEYS_VERSION)
    return Pause(*before[0]) if before else None


def clear_pause(scope: str) -> Rule[Pause | None]:
    removed = yield Fetch(sql.CLEAR_PAUSE, (scope,))
    if not removed:
        return None
    yield Execute(sql.BUMP_KEYS_VERSION)
    return Pause(*removed[0])


# --- dashboard sessions and upstream key states -----------------------------------------
def add_dashboard_session(session: DashboardSession) -> Rule[None]:
    """Purge the sessions expired or revoked before this one was made, then add it."""
    yield Execute(sql.PURGE_SESSIONS, (session.created_at,))
    yield Execute(sql.INSERT_SESSION, sql.session_row(session))


def set_upstream_key_states(states: Sequence[UpstreamKeyState]) -> Rule[None]:
    """One statement per state, in order (a name given twice ends as its last state)."""
    yield ExecuteMany(sql.SET_UPSTREAM_STATE, [dataclasses.astuple(s) for s in states])
    yield Execute(sql.BUMP_UPSTREAM_VERSION)
