"""PostgreSQL and Redis for tests: one schema / key prefix per test, removed afterwards.

The services run on the development and CI machines (PostgreSQL on
127.0.0.1:5432, trust auth, database ``test``; Redis on 127.0.0.1:6379).
Override with ``TEAMGATE_TEST_POSTGRES_URL`` / ``TEAMGATE_TEST_REDIS_URL``.
Tests that need them FAIL (never skip) when they are absent.
"""

from __future__ import annotations

import os
import uuid

import asyncpg
import pytest
import redis.asyncio as redis_asyncio

from teamgate.ledger.postgres.store import PostgresStore

POSTGRES_URL = os.environ.get(
    "TEAMGATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TEAMGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


async def delete_prefix(client: redis_asyncio.Redis, prefix: str) -> None:
    async for key in client.scan_iter(match=prefix + "*", count=1000):
        await client.delete(key)


async def create_schema(name: str) -> None:
    try:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL is needed at {POSTGRES_URL} and does not answer: {exc}")
    try:
        await conn.execute(f'CREATE SCHEMA "{name}"')
    finally:
        await conn.close()


async def drop_schema(name: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


def schema_url(schema: str) -> str:
    """A storage URL whose connections use ``schema`` (``search_path`` as a URL parameter)."""
    return f"{POSTGRES_URL}?search_path={schema}"


class TempSchemaPostgresStore(PostgresStore):
    """A PostgresStore in a fresh schema: created and migrated on open, dropped on close."""

    def __init__(self) -> None:
        super().__init__(POSTGRES_URL, schema=unique_name("test"), max_size=4)

    async def open(self) -> None:
        assert self.schema is not None
        await create_schema(self.schema)
        await self.migrate()
        await super().open()

    async def close(self) -> None:
        await super().close()
        assert self.schema is not None
        await drop_schema(self.schema)
