"""The PostgreSQL :class:`~teamgate.ledger.store.Store`, on an asyncpg connection pool.

For deployments with several gateway instances: they share one database, so a
key revoked through one instance bumps ``keys_version`` and every instance's
key cache (which polls it every second) drops the key within about a second.

The schema is versioned (:mod:`teamgate.ledger.postgres.schema`): ``teamgate migrate``
creates or upgrades it; :meth:`PostgresStore.open` only checks it and refuses a
database with a missing, older or newer schema. Usage batches go in with one
``COPY`` each (binary protocol), so 5,000 records cost one statement, and their
15-minute roll-up sums with one ``INSERT … ON CONFLICT DO UPDATE`` in the same
transaction (``ledger/rollup.py``). What is the same SQL on both stores is in
:class:`~teamgate.ledger.queries.SharedQueries`; here is the asyncpg driver.

Extra query parameters of the URL are PostgreSQL settings, e.g.
``postgresql://u@db/teamgate?search_path=tenant_a`` or
``...?application_name=teamgate``.

>>> PostgresStore("postgresql://teamgate:s3cret@db:5432/teamgate")
PostgresStore('postgresql://teamgate:***@db:5432/teamgate')
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]

from teamgate.ledger import rules
from teamgate.ledger.postgres.schema import check_schema, migrate
from teamgate.ledger.postgres.summary import PostgresSummaryQueries
from teamgate.ledger.postgres.upstream import PostgresUpstreamTables
from teamgate.ledger.queries import SharedQueries
from teamgate.ledger.rollup import bucket_sums
from teamgate.ledger.sql import POSTGRES, UPSERT_ROLLUP_ARRAYS, USAGE_COLUMNS, usage_row

_T = TypeVar("_T")
_PASSWORD = re.compile(r"(://[^:/@]+:)[^@]*@")


def redact_dsn(url: str) -> str:
    """The URL with its password replaced by ``***``."""
    return _PASSWORD.sub(r"\1***@", url)


def _rowcount(status: str) -> int:
    """Rows changed, from a command tag ("UPDATE 1", "INSERT 0 1", "DELETE 0")."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class PostgresStore(PostgresSummaryQueries, PostgresUpstreamTables, SharedQueries):
    """A :class:`~teamgate.ledger.store.Store` on PostgreSQL (asyncpg pool).

    Usage::

        store = PostgresStore("postgresql://teamgate@db/teamgate")
        await store.migrate()        # what `teamgate migrate` does; a gateway only checks
        await store.open()           # SchemaMismatch if the schema is not this version
        await store.append_usage(records)
        await store.close()

    ``schema`` sets ``search_path`` (tests use one schema each).
    """

    _dialect = POSTGRES

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

    async def ping(self) -> None:
        await self.client_keys_version()  # one pooled round trip

    # --- the driver of the shared SQL (ledger/queries.py, ledger/rules.py) --------------------
    async def _fetch(self, template: str, *params: Any) -> list[Any]:
        rows: list[Any] = await self._db().fetch(POSTGRES.render(template), *params)
        return rows

    async def _execute(self, template: str, *params: Any) -> int:
        return _rowcount(await self._db().execute(POSTGRES.render(template), *params))

    async def _apply(self, rule: rules.Rule[_T]) -> _T:
        async with self._db().acquire() as conn, conn.transaction():
            done, step = rules.resume(rule)
            while not done:
                try:
                    result, error = await self._step(conn, step), None
                except asyncpg.UniqueViolationError as exc:
                    result, error = None, rules.UniqueViolation(exc.constraint_name or "")
                done, step = rules.resume(rule, result, error)
        answer: _T = step
        return answer

    async def _step(self, conn: asyncpg.Connection, op: rules.Op) -> object:
        if isinstance(op, rules.AppendUsage):
            await self._append(conn, op.records)
            return None
        statement = POSTGRES.render(op.template)
        if isinstance(op, rules.ExecuteMany):
            await conn.executemany(statement, op.rows)
            return None
        if isinstance(op, rules.Fetch):
            return await conn.fetch(statement, *op.params)
        return _rowcount(await conn.execute(statement, *op.params))

    async def _append(self, conn: asyncpg.Connection, records: Sequence[Any]) -> None:
        """The records in one binary ``COPY``, then their bucket sums in one upsert, in key
        order (two instances adding to the same buckets lock them in the same order)."""
        await conn.copy_records_to_table(
            "usage",
            records=[usage_row(r) for r in records],
            columns=USAGE_COLUMNS,
            schema_name=self.schema,
        )
        await conn.execute(
            UPSERT_ROLLUP_ARRAYS, *(list(c) for c in zip(*bucket_sums(records), strict=True))
        )

    # --- what PostgreSQL does its own way -------------------------------------------------------
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
