"""The SQL both stores share: column lists, statements, row mappers, SQLite's table DDL.

Statements are written once, with PostgreSQL's numbered placeholders (``$1``), and
rendered for each driver by its :class:`Dialect`: asyncpg takes them as written,
sqlite3 gets its own numbered marks (``?1``). The few words the two SQLs spell
differently are holes in the text: ``{for_update}`` (a row lock, which SQLite's
``BEGIN IMMEDIATE`` makes needless) and ``{binary}`` (code point order: SQLite's
default, PostgreSQL's ``COLLATE "C"``).

>>> SQLITE.render(DELETE_OWNED)
'DELETE FROM owned_objects WHERE kind = ?1 AND object_id = ?2'
>>> POSTGRES.render("SELECT 1 FROM client_keys WHERE name = $1{for_update}")
'SELECT 1 FROM client_keys WHERE name = $1 FOR UPDATE'

SQLite's tables are built from the record dataclasses (:func:`sqlite_table`), so a
column is declared once, in the record; PostgreSQL's come from the numbered
migrations, which are history and never edited (``ledger/migrations``).

Every statement here is made of constants (the dataclasses' own field names): no
input is ever formatted into SQL, only passed as a parameter.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import re
import types
import typing
from collections.abc import Sequence
from typing import Any, Literal, cast

import orjson

from teamgate.ledger.audit_records import AUDIT_COLUMNS, AuditEntry
from teamgate.ledger.owned import OwnedObject
from teamgate.ledger.pause_records import PAUSE_COLUMNS
from teamgate.ledger.records import ClientKey, UsageRecord, UsageSource
from teamgate.ledger.rollup import ROLLUP_COLUMNS, ROLLUP_KEY, ROLLUP_SUMS
from teamgate.ledger.session_records import SESSION_COLUMNS, DashboardSession
from teamgate.ledger.upstream_records import UpstreamKeyState

_MARK = re.compile(r"\$(\d+)")


@dataclasses.dataclass(frozen=True, slots=True)
class Dialect:
    """How one driver spells the shared statements."""

    name: Literal["sqlite", "postgresql"]
    for_update: str
    binary: str

    @functools.lru_cache(maxsize=256)  # noqa: B019 - two module-level instances, kept forever
    def render(self, template: str) -> str:
        """``template`` for this driver: holes filled, placeholders in its style."""
        text = template.replace("{for_update}", self.for_update).replace("{binary}", self.binary)
        return _MARK.sub(r"?\1", text) if self.name == "sqlite" else text


SQLITE = Dialect("sqlite", "", "")
POSTGRES = Dialect("postgresql", " FOR UPDATE", ' COLLATE "C"')


def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _marks(n: int, first: int = 1) -> str:
    return ", ".join(f"${i}" for i in range(first, first + n))


def _select(table: str, columns: Sequence[str]) -> str:
    return f"SELECT {', '.join(columns)} FROM {table}"  # noqa: S608 - constants only


def _insert(table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({_marks(len(columns))})"  # noqa: S608


# --- columns and row mappers -----------------------------------------------------------
USAGE_COLUMNS = _names(UsageRecord)
KEY_COLUMNS = _names(ClientKey)
OWNED_COLUMNS = _names(OwnedObject)
STATE_COLUMNS = _names(UpstreamKeyState)

usage_row: typing.Callable[[UsageRecord], tuple[Any, ...]] = operator.attrgetter(*USAGE_COLUMNS)
"""A record's values in :data:`USAGE_COLUMNS` order (``astuple`` deep-copies: 10x slower)."""


def usage_from_row(row: Sequence[Any]) -> UsageRecord:
    """A record from its columns (SQLite gives ``streamed`` as 0/1)."""
    values = dict(zip(USAGE_COLUMNS, row, strict=True))
    values["streamed"] = bool(values["streamed"])
    values["usage_source"] = cast(UsageSource, values["usage_source"])
    return UsageRecord(**values)


def key_from_row(row: Sequence[Any]) -> ClientKey:
    return ClientKey(*row)


def owned_from_row(row: Sequence[Any]) -> OwnedObject:
    return OwnedObject(*row)


def audit_from_row(row: Sequence[Any]) -> AuditEntry:
    return AuditEntry(*row)


def session_row(session: DashboardSession) -> list[Any]:
    """The stored values of ``session`` (teams as a JSON list), in column order."""
    values = [getattr(session, c) for c in SESSION_COLUMNS]
    values[SESSION_COLUMNS.index("teams")] = orjson.dumps(list(session.teams)).decode()
    return values


def session_from_row(row: Sequence[Any]) -> DashboardSession:
    values = list(row)
    values[SESSION_COLUMNS.index("teams")] = tuple(orjson.loads(values[3]))
    values[SESSION_COLUMNS.index("org")] = bool(values[4])
    return DashboardSession(*values)


# --- client keys -------------------------------------------------------------------------
SELECT_KEY = _select("client_keys", KEY_COLUMNS)
INSERT_KEY = _insert("client_keys", KEY_COLUMNS)
LIVE_KEY = "SELECT id, expires_at FROM client_keys WHERE name = $1 AND revoked_at IS NULL"
RETIRE_KEY = "UPDATE client_keys SET revoked_at = expires_at WHERE id = $1"
GET_KEY = (
    f"{SELECT_KEY} WHERE name = $1 "
    "ORDER BY (revoked_at IS NULL) DESC, created_at DESC, id DESC LIMIT 1"
)
LIST_KEYS = f"{SELECT_KEY} ORDER BY name{{binary}}, created_at, id"
LIST_LIVE_KEYS = f"{SELECT_KEY} WHERE revoked_at IS NULL ORDER BY name{{binary}}, created_at, id"
REVOKE_KEY = "UPDATE client_keys SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL"
RENAME_LIVE_KEY = (
    "UPDATE client_keys SET name = $2, expires_at = "
    "CASE WHEN expires_at IS NULL OR expires_at > $3 THEN $3 ELSE expires_at END "
    "WHERE name = $1 AND revoked_at IS NULL"
)
KEYS_VERSION = "SELECT value FROM meta WHERE key = 'keys_version'"
BUMP_KEYS_VERSION = "UPDATE meta SET value = value + 1 WHERE key = 'keys_version'"
LIVE_NAME_INDEX = "client_keys_live_name"

# --- the usage ledger ----------------------------------------------------------------------
SELECT_USAGE_RANGE = f"{_select('usage', USAGE_COLUMNS)} WHERE ts >= $1 AND ts < $2 ORDER BY ts, id"
TS_SPAN = "SELECT MIN(ts), MAX(ts) FROM usage WHERE ts >= $1 AND ts < $2"
SELECT_USAGE_PAGE = (
    f"SELECT id, {', '.join(USAGE_COLUMNS)} FROM usage "  # noqa: S608
    "WHERE id > $1 AND ts >= $2 AND ts < $3 ORDER BY id LIMIT $4"
)

# --- grouped sums (ledger/rollup.py): the pieces both stores' summaries are made of --------
RAW_MODEL = "CASE WHEN model_served <> '' THEN model_served ELSE model_requested END"
_PLAIN = {
    "team": "team",
    "environment": "environment",
    "purpose": "purpose",
    "key": "client_key",
    "refusal": "refusal",
    "status": "status",
}
RAW_DIMENSIONS = {**_PLAIN, "model": RAW_MODEL, "user": "end_user"}
ROLLUP_DIMENSIONS = {**_PLAIN, "model": "model"}
_SUM_TERMS = (
    "{n} AS n, CASE WHEN refusal <> '' THEN {n} ELSE 0 END AS refused, "
    "CASE WHEN refusal = '' AND status >= 400 THEN {n} ELSE 0 END AS failed, "
    "prompt_tokens AS pt, completion_tokens AS ct, cached_tokens AS cached, cost_pusd AS cost"
)
RAW_SUM_TERMS = _SUM_TERMS.format(n="1")
ROLLUP_SUM_TERMS = _SUM_TERMS.format(n="requests")


def outer_summary(width: int, inner: str) -> str:
    """The grouped sums over ``inner`` (selects of ``g0..``, then the sum terms, joined
    by ``UNION ALL``): the group values, then the seven sums, sorted by group."""
    groups = ", ".join(f"g{i}" for i in range(width))
    sql = (
        f"SELECT {groups}{', ' if width else ''}SUM(n), SUM(refused), SUM(failed), "  # noqa: S608
        f"SUM(pt), SUM(ct), SUM(cached), SUM(cost) FROM ({inner}) AS parts"
    )
    return f"{sql} GROUP BY {groups} ORDER BY {groups}" if width else sql


# The roll-up rows of the usage table (back-fill), ``{bucket}`` being each SQL's integer part.
ROLLUP_OF_USAGE = (
    f"SELECT {{bucket}}, team, environment, purpose, client_key, {RAW_MODEL}, refusal, status, "  # noqa: S608
    "COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cached_tokens), SUM(cost_pusd) "
    "FROM usage GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"
)
_ADD_SUMS = ", ".join(f"{c} = usage_rollup.{c} + excluded.{c}" for c in ROLLUP_SUMS)
_ON_KEY = f"ON CONFLICT ({', '.join(ROLLUP_KEY)}) DO UPDATE SET {_ADD_SUMS}"
UPSERT_ROLLUP = f"{_insert('usage_rollup', ROLLUP_COLUMNS)} {_ON_KEY}"
# PostgreSQL: a batch's bucket sums in one statement, from arrays (in key order).
_ARRAY_TYPES = ("int8", *("text",) * 6, "int4", *("int8",) * 5)
UPSERT_ROLLUP_ARRAYS = (
    f"INSERT INTO usage_rollup ({', '.join(ROLLUP_COLUMNS)}) SELECT * FROM unnest("  # noqa: S608
    + ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(_ARRAY_TYPES))
    + f") {_ON_KEY}"
)

# --- alerts ------------------------------------------------------------------------------------
MARK_ALERT = (
    "INSERT INTO alerts_fired (scope, period, threshold, fired_at) "
    "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
)
ALERTS_FIRED = "SELECT threshold FROM alerts_fired WHERE scope = $1 AND period = $2"

# --- owned Groq files and batches ---------------------------------------------------------
INSERT_OWNED = f"{_insert('owned_objects', OWNED_COLUMNS)} ON CONFLICT DO NOTHING"
GET_OWNED = f"{_select('owned_objects', OWNED_COLUMNS)} WHERE kind = $1 AND object_id = $2"
LIST_OWNED = (
    f"{_select('owned_objects', OWNED_COLUMNS)} "
    "WHERE kind = $1 AND team = $2 ORDER BY created_at, object_id"
)
DELETE_OWNED = "DELETE FROM owned_objects WHERE kind = $1 AND object_id = $2"
SETTLE_OWNED = (
    "UPDATE owned_objects SET settled_at = $1 "
    "WHERE kind = $2 AND object_id = $3 AND settled_at IS NULL"
)

# --- the audit trail ------------------------------------------------------------------------
INSERT_AUDIT = f"{_insert('audit_log', AUDIT_COLUMNS)} RETURNING id"
SELECT_AUDIT = (
    f"SELECT {', '.join(AUDIT_COLUMNS)}, id FROM audit_log "  # noqa: S608
    "WHERE ts >= $1 AND id < $2 ORDER BY id DESC LIMIT $3"
)

# --- pauses ----------------------------------------------------------------------------------
SELECT_PAUSES = f"{_select('pauses', PAUSE_COLUMNS)} ORDER BY scope"
PAUSE_OF = f"{_select('pauses', PAUSE_COLUMNS)} WHERE scope = $1{{for_update}}"
SET_PAUSE = f"{_insert('pauses', PAUSE_COLUMNS)} ON CONFLICT (scope) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in PAUSE_COLUMNS if c != "scope"
)
CLEAR_PAUSE = f"DELETE FROM pauses WHERE scope = $1 RETURNING {', '.join(PAUSE_COLUMNS)}"  # noqa: S608

# --- dashboard sessions -------------------------------------------------------------------
PURGE_SESSIONS = "DELETE FROM dashboard_sessions WHERE expires_at <= $1 OR revoked_at <= $1"
INSERT_SESSION = _insert("dashboard_sessions", SESSION_COLUMNS)
LIVE_SESSION = (
    f"{_select('dashboard_sessions', SESSION_COLUMNS)} "
    "WHERE id_hash = $1 AND expires_at > $2 AND revoked_at IS NULL"
)
REVOKE_SESSION = (
    "UPDATE dashboard_sessions SET revoked_at = $2 "  # noqa: S608
    "WHERE id_hash = $1 AND expires_at > $2 AND revoked_at IS NULL "
    f"RETURNING {', '.join(SESSION_COLUMNS)}"
)

# --- upstream key states -------------------------------------------------------------------
SET_UPSTREAM_STATE = (
    f"{_insert('upstream_keys', STATE_COLUMNS)} ON CONFLICT (name) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in STATE_COLUMNS if c != "name")
)
SELECT_UPSTREAM_STATES = (
    f"{_select('upstream_keys', STATE_COLUMNS)} "
    "ORDER BY project{binary}, preferred_order, name{binary}"
)
# An hour bucket [h, h + 3600) overlaps (now - 24 h, now] when h + 3600 > now - 24 h.
HOUR_S = 3600
KEEP_HOURS_S = 48 * HOUR_S  # hourly buckets older than this are pruned on each flush
UPSTREAM_USAGE = (
    "SELECT u.name, u.fingerprint, u.requests, u.failures, u.first_used_at, "
    "u.last_used_at, COALESCE((SELECT SUM(h.requests) FROM upstream_usage_hourly h "
    "WHERE h.name = u.name AND h.hour > CAST($1 AS DOUBLE PRECISION) "
    "AND h.hour <= CAST($2 AS DOUBLE PRECISION)), 0) "
    "FROM upstream_usage u ORDER BY u.name{binary}"
)
PRUNE_HOURLY = "DELETE FROM upstream_usage_hourly WHERE hour < CAST($1 AS DOUBLE PRECISION)"
UPSTREAM_VERSION = "SELECT value FROM meta WHERE key = 'upstream_version'"
BUMP_UPSTREAM_VERSION = "UPDATE meta SET value = value + 1 WHERE key = 'upstream_version'"


# --- SQLite's tables, from the records --------------------------------------------------------
_SQLITE_TYPES = {str: "TEXT", float: "REAL", int: "INTEGER", bool: "INTEGER", tuple: "TEXT"}


def _sqlite_column(name: str, hint: Any, default: str | None) -> str:
    args = typing.get_args(hint)
    nullable = type(None) in args and typing.get_origin(hint) in (typing.Union, types.UnionType)
    base = next(a for a in args if a is not type(None)) if nullable else hint
    if typing.get_origin(base) is Literal:
        base = type(typing.get_args(base)[0])
    sql_type = _SQLITE_TYPES[typing.get_origin(base) or base]
    column = f"{name} {sql_type}" + ("" if nullable else " NOT NULL")
    if default is not None:
        column += " DEFAULT '" + default.replace("'", "''") + "'"
    return column


def sqlite_table(
    table: str,
    record: type,
    *,
    first: str = "",
    last: str = "",
    skip: tuple[str, ...] = (),
    defaults: tuple[str, ...] = (),
    without_rowid: bool = False,
) -> str:
    """``CREATE TABLE IF NOT EXISTS`` with a column per field of ``record`` (its type,
    NOT NULL unless ``… | None``; the fields named in ``defaults`` keep their text
    default), between ``first`` and ``last``.

    >>> from teamgate.ledger.pause_records import Pause
    >>> print(sqlite_table("pauses", Pause, last="PRIMARY KEY (scope)"))
    CREATE TABLE IF NOT EXISTS pauses (
        scope TEXT NOT NULL,
        reason TEXT NOT NULL,
        until REAL,
        paused_at REAL NOT NULL,
        actor TEXT NOT NULL,
        PRIMARY KEY (scope)
    )
    """
    hints = typing.get_type_hints(record)
    columns = [
        _sqlite_column(f.name, hints[f.name], str(f.default) if f.name in defaults else None)
        for f in dataclasses.fields(record)
        if f.name not in skip
    ]
    body = ",\n    ".join(part for part in (first, *columns, last) if part)
    return f"CREATE TABLE IF NOT EXISTS {table} (\n    {body}\n)" + (
        " WITHOUT ROWID" if without_rowid else ""
    )


def sqlite_rollup_table() -> str:
    """The roll-up table (ledger/rollup.py): integer bucket and sums, text dimensions."""
    integers = {"bucket", "status", *ROLLUP_SUMS}
    columns = [f"{c} {'INTEGER' if c in integers else 'TEXT'} NOT NULL" for c in ROLLUP_COLUMNS]
    body = ",\n    ".join([*columns, f"PRIMARY KEY ({', '.join(ROLLUP_KEY)})"])
    return f"CREATE TABLE IF NOT EXISTS usage_rollup (\n    {body}\n) WITHOUT ROWID"
