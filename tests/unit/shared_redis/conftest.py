"""Redis fixtures: a client and a unique key prefix per test, its keys deleted afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis_asyncio

from tests.support.shared_services import REDIS_URL, delete_prefix, unique_name


@pytest.fixture
async def redis_prefix() -> AsyncIterator[tuple[redis_asyncio.Redis, str]]:
    pool = redis_asyncio.BlockingConnectionPool.from_url(
        REDIS_URL, max_connections=32, timeout=10, socket_timeout=5
    )
    client = redis_asyncio.Redis(connection_pool=pool)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        await pool.aclose()
        pytest.fail(f"Redis is needed at {REDIS_URL} and does not answer: {exc}")
    prefix = unique_name("tgtest") + ":"
    try:
        yield client, prefix
    finally:
        await delete_prefix(client, prefix)
        await client.aclose()
        await pool.aclose()
