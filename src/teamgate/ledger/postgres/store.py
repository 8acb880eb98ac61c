"""The PostgreSQL :class:`~teamgate.ledger.store.Store`, on an asyncpg connection pool.

For deployments with several gateway instances: they share one database, so a
key revoked through one instance bumps ``keys_version`` and every instance's
key cache (which polls it every second) drops the key within about a second.

The schema is versioned (:mod:`teamgate.ledger.postgres.schema`): ``teamgate migrate``
creates or upgrades it; :meth:`PostgresStore.open` only checks it and refuses a
database with a missing, older or newer schema. Usage batches go in with one
``COPY`` each (binary protocol), so 5,000 records cost one statement.

Extra query parameters of the URL are PostgreSQL settings, e.g.
``postgresql://u@db/teamgate?search_path=tenant_a`` or
``...?application_name=teamgate``.

>>> PostgresStore("postgresql://teamgate:s3cret@db:5432/teamgate")
PostgresStore('postgresql://teamgate:***@db:5432/teamgate')
"""

from __future__ import annotations

import dataclasses
import operator
import re
import time
from collections.abc import Sequence
from typing import Any, cast

import asyncpg  # type: ignore[import-untyped]

from teamgate.ledger.owned import ObjectKind, OwnedObject
from teamgate.ledger.postgres.audit import PostgresAuditTable
from teamgate.ledger.postgres.pauses import PostgresPauseTable
from teamgate.ledger.postgres.schema import check_schema, migrate
from teamgate.ledger.postgres.sessions import PostgresSessionTable
from teamgate.ledger.postgres.summary import PostgresSummaryQueries
from teamgate.ledger.postgres.upstream import PostgresUpstreamTables
from teamgate.ledger.records import ClientKey, UsageRecord, UsageSource

_USAGE_COLUMNS = tuple(f.name for f in dataclasses.fields(UsageRecord))
_KEY_COLUMNS = tuple(f.name for f in dataclasses.fields(ClientKey))

# SQL built from the dataclasses' own field names only (constants, no input).
_SELECT_KEY = f"SELECT {', '.join(_KEY_COLUMNS)} FROM client_keys"  # noqa: S608
_INSERT_KEY = (
    f"INSERT INTO client_keys ({', '.join(_KEY_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(f'${i + 1}' for i in range(len(_KEY_COLUMNS)))})"
)
_SELECT_USAGE = f"SELECT {', '.join(_USAGE_COLUMNS)} FROM usage"  # noqa: S608
_BUMP_KEYS_VERSION = "UPDATE meta SET value = value + 1 WHERE key = 'keys_version'"
_PASSWORD = re.compile(r"(://[^:/@]+:)[^@]*@")


def redact_dsn(url: str) -> str:
    """The URL with its password replaced by ``***``."""
    return _PASSWORD.sub(r"\1***@", url)


def _key_from_row(row: asyncpg.Record) -> ClientKey:
    return ClientKey(*row)


def _usage_from_row(row: asyncpg.Record) -> UsageRecord:
    values = dict(zip(_USAGE_COLUMNS, row, strict=True))
    values["usage_source"] = cast(UsageSource, values["usage_source"])
    return UsageRecord(**values)


_USAGE_FIELDS = operator.attrgetter(*(f.name for f in dataclasses.fields(UsageRecord)))


def _usage_row(record: UsageRecord) -> tuple[Any, ...]:
    """The record's fields in column order (``astuple`` deep-copies each value: 10x slower)."""
    row: tuple[Any, ...] = _USAGE_FIELDS(record)
    return row


_OWNED_COLUMNS = ", ".join(f.name for f in dataclasses.fields(OwnedObject))


class PostgresStore(
    PostgresUpstreamTables,
    PostgresSummaryQueries,
    PostgresAuditTable,
    PostgresPauseTable,
    PostgresSessionTable,
):
    """A :class:`~teamgate.ledger.store.Store` on PostgreSQL (asyncpg pool).

    Usage::

        store = PostgresStore("postgresql://teamgate@db/teamgate")
        await store.migrate()        # what `teamgate migrate` does; a gateway only checks
        await store.open()           # SchemaMismatch if the schema is not this version
        await store.append_usage(records)
        await store.close()

    ``schema`` sets ``search_path`` (tests use one schema each).
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        min_size: int = 1,
        max_size: int = 10,
        command_timeout_s: float = 10.0,
    ) -> None:
        self.url = url
        self.schema = schema
        self._min_size = min_size
        self._max_size = max_size
        self._timeout = command_timeout_s
        self._pool: asyncpg.Pool | None = None

    def __repr__(self) -> str:
        return f"PostgresStore({redact_dsn(self.url)!r})"

    def _server_settings(self) -> dict[str, str]:
        return {"search_path": self.schema} if self.schema else {}

    def _db(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError(f"{self!r} is not open")
        return self._pool

    # --- lifecycle ---------------------------------------------------------------
    async def migrate(self) -> list[int]:
        """Create or upgrade the schema (one connection); the versions applied."""
        conn = await asyncpg.connect(self.url, server_settings=self._server_settings())
        try:
            return [m.version for m in await migrate(conn)]
        finally:
            await conn.close()

    async def open(self) -> None:
        if self._pool is not None:
            return
        pool = await asyncpg.create_pool(
            self.url,
            min_size=self._min_size,
            max_size=self._max_size,
            command_timeout=self._timeout,
            server_settings=self._server_settings(),
        )
        try:
            async with pool.acquire() as conn:
                await check_schema(conn, redact_dsn(self.url))
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    # --- client keys ----------------------------------------------------------------
    async def add_client_key(self, key: ClientKey) -> None:
        async with self._db().acquire() as conn, conn.transaction():
            live = await conn.fetchrow(
                "SELECT id, expires_at FROM client_keys "
                "WHERE name = $1 AND revoked_at IS NULL FOR UPDATE",
                key.name,
            )
            if live is not None:
                if live["expires_at"] is None or live["expires_at"] > key.created_at:
                    raise KeyError(f"a live client key is already named `{key.name}`")
                await conn.execute(
                    "UPDATE client_keys SET revoked_at = expires_at WHERE id = $1", live["id"]
                )
            try:
                await conn.execute(_INSERT_KEY, *dataclasses.astuple(key))
            except asyncpg.UniqueViolationError as exc:
                if exc.constraint_name == "client_keys_live_name":  # a concurrent add won
                    raise KeyError(f"a live client key is already named `{key.name}`") from None
                raise ValueError(
                    f"client key `{key.name}`: a key with the same hash is already stored"
                ) from None
            await conn.execute(_BUMP_KEYS_VERSION)

    async def get_client_key(self, name: str) -> ClientKey | None:
        """The non-revoked key of that name, else the most recently created revoked one."""
        row = await self._db().fetchrow(
            f"{_SELECT_KEY} WHERE name = $1 "
            "ORDER BY (revoked_at IS NULL) DESC, created_at DESC, id DESC LIMIT 1",
            name,
        )
        return None if row is None else _key_from_row(row)

    async def list_client_keys(self, *, include_revoked: bool = False) -> list[ClientKey]:
        where = "" if include_revoked else " WHERE revoked_at IS NULL"
        rows = await self._db().fetch(
            f'{_SELECT_KEY}{where} ORDER BY name COLLATE "C", created_at, id'
        )
        return [_key_from_row(row) for row in rows]

    async def revoke_client_key(self, name: str, at: float) -> bool:
        return await self._update_live_key(name, "UPDATE client_keys SET revoked_at = $2", at)

    async def _update_live_key(self, name: str, update: str, at: float) -> bool:
        async with self._db().acquire() as conn, conn.transaction():
            status = await conn.execute(
                f"{update} WHERE name = $1 AND revoked_at IS NULL", name, at
            )
            if status.endswith(" 0"):
                return False
            await conn.execute(_BUMP_KEYS_VERSION)
        return True

    async def touch_client_keys(self, last_used: dict[str, float]) -> None:
        if not last_used:
            return
        await self._db().execute(
            "UPDATE client_keys AS k SET last_used_at = t.at "
            "FROM unnest($1::text[], $2::float8[]) AS t(name, at) "
            "WHERE k.name = t.name AND k.revoked_at IS NULL "
            "AND (k.last_used_at IS NULL OR k.last_used_at < t.at)",
            list(last_used),
            list(last_used.values()),
        )

    async def rotate_client_key(
        self, successor: ClientKey, *, old_name_after: str, old_expires_at: float
    ) -> bool:
        async with self._db().acquire() as conn, conn.transaction():
            if await conn.fetchval(
                "SELECT 1 FROM client_keys WHERE name = $1 AND revoked_at IS NULL",
                old_name_after,
            ):
                raise KeyError(f"a live client key is already named `{old_name_after}`")
            try:
                status = await conn.execute(
                    "UPDATE client_keys SET name = $2, expires_at = "
                    "CASE WHEN expires_at IS NULL OR expires_at > $3 THEN $3 ELSE expires_at END "
                    "WHERE name = $1 AND revoked_at IS NULL",
                    successor.name,
                    old_name_after,
                    old_expires_at,
                )
                if status.endswith(" 0"):
                    return False
                await conn.execute(_INSERT_KEY, *dataclasses.astuple(successor))
            except asyncpg.UniqueViolationError as exc:
                if exc.constraint_name == "client_keys_live_name":  # a concurrent add won
                    raise KeyError("a live client key took a name this rotation needs") from None
                raise ValueError(
                    f"client key `{successor.name}`: a key with the same hash is already stored"
                ) from None
            await conn.execute(_BUMP_KEYS_VERSION)
        return True

    async def ping(self) -> None:
        await self.client_keys_version()  # one pooled round trip

    async def client_keys_version(self) -> int:
        value = await self._db().fetchval("SELECT value FROM meta WHERE key = 'keys_version'")
        return int(value)

    # --- usage ledger ----------------------------------------------------------------
    async def append_usage(self, records: Sequence[UsageRecord]) -> None:
        """One ``COPY`` (binary) per batch, in one transaction."""
        if not records:
            return
        async with self._db().acquire() as conn:
            await conn.copy_records_to_table(
                "usage",
                records=[_usage_row(r) for r in records],
                columns=_USAGE_COLUMNS,
                schema_name=self.schema,
            )

    async def usage_records(self, start: float, end: float) -> list[UsageRecord]:
        rows = await self._db().fetch(
            f"{_SELECT_USAGE} WHERE ts >= $1 AND ts < $2 ORDER BY ts, id", start, end
        )
        return [_usage_from_row(row) for row in rows]

    # --- alert state -------------------------------------------------------------------
    async def mark_alert_fired(self, scope: str, period: str, threshold: str) -> bool:
        status = await self._db().execute(
            "INSERT INTO alerts_fired (scope, period, threshold, fired_at) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            scope,
            period,
            threshold,
            time.time(),
        )
        return bool(status == "INSERT 0 1")

    async def alerts_fired(self, scope: str, period: str) -> list[str]:
        rows = await self._db().fetch(
            "SELECT threshold FROM alerts_fired WHERE scope = $1 AND period = $2",
            scope,
            period,
        )
        return sorted(str(row[0]) for row in rows)  # code point order, any collation

    # --- owned Groq files and batches ---------------------------------------------

    async def add_owned_object(self, obj: OwnedObject) -> None:
        await self._db().execute(
            f"INSERT INTO owned_objects ({_OWNED_COLUMNS}) "  # noqa: S608
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            *dataclasses.astuple(obj),
        )

    async def get_owned_object(self, kind: ObjectKind, object_id: str) -> OwnedObject | None:
        row = await self._db().fetchrow(
            f"SELECT {_OWNED_COLUMNS} FROM owned_objects WHERE kind = $1 AND object_id = $2",  # noqa: S608
            kind,
            object_id,
        )
        return None if row is None else OwnedObject(*row)

    async def list_owned_objects(self, kind: ObjectKind, team: str) -> list[OwnedObject]:
        rows = await self._db().fetch(
            f"SELECT {_OWNED_COLUMNS} FROM owned_objects "  # noqa: S608
            "WHERE kind = $1 AND team = $2 ORDER BY created_at, object_id",
            kind,
            team,
        )
        return [OwnedObject(*row) for row in rows]

    async def delete_owned_object(self, kind: ObjectKind, object_id: str) -> bool:
        status = await self._db().execute(
            "DELETE FROM owned_objects WHERE kind = $1 AND object_id = $2", kind, object_id
        )
        return bool(status == "DELETE 1")

    async def settle_owned_object(
        self, kind: ObjectKind, object_id: str, at: float, records: Sequence[UsageRecord]
    ) -> bool:
        """The row lock of the ``UPDATE`` decides between instances; the ``COPY`` of the
        records commits with it, or neither does."""
        async with self._db().acquire() as conn, conn.transaction():
            status = await conn.execute(
                "UPDATE owned_objects SET settled_at = $1 "
                "WHERE kind = $2 AND object_id = $3 AND settled_at IS NULL",
                at,
                kind,
                object_id,
            )
            if status != "UPDATE 1":
                return False
            if records:
                await conn.copy_records_to_table(
                    "usage",
                    records=[_usage_row(r) for r in records],
                    columns=_USAGE_COLUMNS,
                    schema_name=self.schema,
                )
        return True
