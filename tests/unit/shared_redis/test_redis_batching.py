"""ScriptBatcher: concurrent script calls share pipelines; errors stay with their callers."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as redis_asyncio
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from teamgate.shared_redis.batching import ScriptBatcher

Fixture = tuple[redis_asyncio.Redis, str]
INCR = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
FAIL = "return redis.error_reply('nope ' .. ARGV[1])"


@pytest.mark.parametrize("dedicated", [True, False])
async def test_concurrent_calls_are_batched_in_order(
    redis_prefix: Fixture, dedicated: bool
) -> None:
    client, prefix = redis_prefix
    batcher = ScriptBatcher(client, dedicated=dedicated)
    incr = batcher.script(INCR)
    try:
        results = await asyncio.gather(*(incr(keys=[prefix + "n"], args=[1]) for _ in range(50)))
        assert sorted(results) == list(range(1, 51))
        assert results == list(range(1, 51))  # sent in the order the calls were made
        assert batcher.calls == 50 and batcher.batches < 50
    finally:
        await batcher.aclose()


@pytest.mark.parametrize("dedicated", [True, False])
async def test_a_script_error_goes_to_its_caller_only(
    redis_prefix: Fixture, dedicated: bool
) -> None:
    client, prefix = redis_prefix
    batcher = ScriptBatcher(client, dedicated=dedicated)
    incr, fail = batcher.script(INCR), batcher.script(FAIL)
    try:
        results = await asyncio.gather(
            incr(keys=[prefix + "n"], args=[1]),
            fail(args=["x"]),
            incr(keys=[prefix + "n"], args=[2]),
            return_exceptions=True,
        )
        assert results[0] == 1 and results[2] == 3
        assert isinstance(results[1], ResponseError) and "nope x" in str(results[1])
        assert await incr(keys=[prefix + "n"], args=[1]) == 4  # the connection is in step
    finally:
        await batcher.aclose()


@pytest.mark.parametrize("dedicated", [True, False])
async def test_scripts_are_loaded_again_after_a_flush(
    redis_prefix: Fixture, dedicated: bool
) -> None:
    client, prefix = redis_prefix
    batcher = ScriptBatcher(client, dedicated=dedicated)
    incr = batcher.script(INCR)
    try:
        await client.script_flush()  # as after a Redis restart
        results = await asyncio.gather(*(incr(keys=[prefix + "n"], args=[1]) for _ in range(3)))
        assert results == [1, 2, 3]
    finally:
        await batcher.aclose()


async def test_an_unreachable_redis_fails_every_call_and_the_batcher_recovers() -> None:
    client = redis_asyncio.Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.2)
    batcher = ScriptBatcher(client, dedicated=True)
    incr = batcher.script(INCR)
    try:
        results = await asyncio.gather(
            *(incr(keys=["k"], args=[1]) for _ in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, RedisConnectionError) for r in results)
        with pytest.raises(RedisConnectionError):  # a later call tries again, and fails alone
            await incr(keys=["k"], args=[1])
    finally:
        await batcher.aclose()
        await client.aclose()


async def test_a_silent_redis_times_the_batch_out() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # reads nothing, never answers

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = redis_asyncio.Redis.from_url(
        f"redis://127.0.0.1:{port}", socket_timeout=0.2, protocol=2
    )
    batcher = ScriptBatcher(client, dedicated=True)
    try:
        results = await asyncio.gather(
            *(batcher.script(INCR)(keys=["k"], args=[1]) for _ in range(2)),
            return_exceptions=True,
        )
        assert all(isinstance(r, RedisTimeoutError) for r in results)
    finally:
        await batcher.aclose()
        await client.aclose()
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
