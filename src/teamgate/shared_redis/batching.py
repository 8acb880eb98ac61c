"""Lua script calls made concurrently are sent to Redis together, as one pipeline.

Every request of a gateway on Redis makes two script calls (the admission with
its budget reservation, and the settle: :mod:`teamgate.shared_redis.gate`), each
one a write and a read on a pooled socket. Under load,
many requests make theirs at about the same time: a :class:`ScriptBatcher`
collects the calls and sends them as ONE pipeline (one write, one read of all
the replies), in the order they were made. Each script still runs atomically
on its own; a batch is not a transaction.

Two modes:

- ``dedicated=True`` (what the gateway uses): the batcher owns ONE connection
  and keeps at most one batch in flight on it; the calls made meanwhile form
  the next batch (so batches grow with the load, like Nagle's algorithm, and
  no pool checkout, retry wrapper or pipeline object is paid per call). Close
  it with :meth:`ScriptBatcher.aclose`.
- ``dedicated=False``: the calls of one event-loop iteration are sent as one
  pipeline through the client's pool (nothing to close).

A lone call is sent at once, as before, plus one loop iteration of latency.

Errors: a script's own error (``ResponseError``) goes to its caller only; a
connection error or timeout goes to every call of the batch (each would have
met it alone too) and the connection is dropped (the next batch reconnects).
Scripts unknown to Redis (``NOSCRIPT``, e.g. after a restart) are loaded and
those calls retried.

Usage::

    batcher = ScriptBatcher(client, dedicated=True)
    incr = batcher.script("return redis.call('INCR', KEYS[1])")
    value = await incr(keys=["k"], args=[])
    await batcher.aclose()
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

REDIS_UNAVAILABLE: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
)
"""The errors that mean "Redis cannot be reached now" (as opposed to a bug in a script);
limits, budgets and the shared state all fail over on exactly these."""

_Call = tuple["BatchedScript", Sequence[Any], Sequence[Any], "asyncio.Future[Any]"]


class BatchedScript:
    """One Lua script run through a :class:`ScriptBatcher`; call it like redis-py's Script."""

    def __init__(self, batcher: ScriptBatcher, source: str) -> None:
        self.script = source  # named as in redis-py's Script
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()
        self._batcher = batcher

    def __repr__(self) -> str:
        return f"BatchedScript(sha={self.sha[:10]})"

    async def __call__(self, keys: Sequence[Any] = (), args: Sequence[Any] = ()) -> Any:
        return await self._batcher.submit(self, keys, args)

    def submit(self, keys: Sequence[Any] = (), args: Sequence[Any] = ()) -> asyncio.Future[Any]:
        """Queue the call; its reply as a future. Once queued, the call is sent even if
        nobody awaits the future any more (a caller can shield it, without a Task)."""
        return self._batcher.submit(self, keys, args)


class ScriptBatcher:
    """Sends the script calls of one event-loop iteration as one pipeline (module docstring)."""

    def __init__(self, client: Redis, *, dedicated: bool = False) -> None:
        self._client = client
        self._dedicated = dedicated
        self._conn: AbstractConnection | None = None
        self._queue: list[_Call] = []
        self._sending: set[asyncio.Task[None]] = set()
        self._draining = False
        self.batches = 0  # pipelines sent (for tests and measurements)
        self.calls = 0

    def __repr__(self) -> str:
        return f"ScriptBatcher(queued={len(self._queue)})"

    def script(self, source: str) -> BatchedScript:
        return BatchedScript(self, source)

    async def call(self, script: BatchedScript, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        return await self.submit(script, keys, args)

    def submit(
        self, script: BatchedScript, keys: Sequence[Any], args: Sequence[Any]
    ) -> asyncio.Future[Any]:
        """Queue one call for the next batch; its reply (or error) as a future."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if self._dedicated:
            if not self._draining:
                self._draining = True
                self._keep(loop.create_task(self._drain()))
        elif not self._queue:
            loop.call_soon(self._flush)
        self._queue.append((script, keys, args, future))
        return future

    async def aclose(self) -> None:
        """Wait for the batches in flight and close the dedicated connection."""
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        if self._conn is not None:
            await self._conn.disconnect()
            self._conn = None

    def _keep(self, task: asyncio.Task[None]) -> None:
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                await self._send(batch)
        finally:
            self._draining = False

    def _flush(self) -> None:
        batch, self._queue = self._queue, []
        if batch:
            self._keep(asyncio.get_running_loop().create_task(self._send(batch)))

    async def _send(self, batch: list[_Call]) -> None:
        self.batches += 1
        self.calls += len(batch)
        try:
            replies = await self._run(batch)
            retry = [i for i, r in enumerate(replies) if isinstance(r, NoScriptError)]
            if retry:
                for source in {batch[i][0].script for i in retry}:
                    await self._client.script_load(source)
                again = await self._run([batch[i] for i in retry])
                for i, reply in zip(retry, again, strict=True):
                    replies[i] = reply
        except BaseException as exc:
            for *_, future in batch:
                if future.done():
                    continue
                if isinstance(exc, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (*_, future), reply in zip(batch, replies, strict=True):
            if future.done():
                continue  # its caller was cancelled
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def _run(self, batch: Sequence[_Call]) -> list[Any]:
        if self._dedicated:
            return await self._run_dedicated(batch)
        if len(batch) == 1:
            script, keys, args, _ = batch[0]
            command = ("EVALSHA", script.sha, len(keys), *keys, *args)
            try:
                return [await self._client.execute_command(*command)]  # type: ignore[no-untyped-call]
            except NoScriptError as exc:
                return [exc]
        pipe = self._client.pipeline(transaction=False)
        for script, keys, args, _ in batch:
            pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
        try:
            return list(await pipe.execute(raise_on_error=False))
        finally:
            await pipe.reset()  # type: ignore[no-untyped-call]

    async def _run_dedicated(self, batch: Sequence[_Call]) -> list[Any]:
        pool = self._client.connection_pool
        timeout = pool.connection_kwargs.get("socket_timeout")
        if self._conn is None:
            # Without its own socket timeout: one deadline below covers the whole batch
            # (the per-write ``wait_for`` would cost a Task per batch).
            kwargs = {**pool.connection_kwargs, "socket_timeout": None}
            self._conn = pool.connection_class(**kwargs)
        conn = self._conn
        packed = b"".join(pack(("EVALSHA", s.sha, len(k), *k, *a)) for s, k, a, _ in batch)
        try:
            async with asyncio.timeout(timeout):
                await conn.send_packed_command(packed, check_health=False)
                replies: list[Any] = []
                for _ in batch:
                    try:
                        replies.append(await conn.read_response())
                    except ResponseError as exc:  # this script's error; the reply was read
                        replies.append(exc)
        except BaseException as exc:
            await conn.disconnect(nowait=True)  # half-read replies: start afresh
            if isinstance(exc, TimeoutError) and not isinstance(exc, RedisTimeoutError):
                raise RedisTimeoutError("Timeout talking to Redis") from None
            raise
        return replies


def _pack(args: Sequence[Any]) -> bytes:
    """One command in RESP (what redis-py's ``pack_command`` makes, for str/bytes/int/float);
    hiredis's C packer (the same bytes, about 3x faster) is used when installed."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, str):
            data = arg.encode()
        elif isinstance(arg, int | float) and not isinstance(arg, bool):
            data = repr(arg).encode()
        else:
            raise TypeError(f"cannot send {type(arg).__name__} to Redis")
        out.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(out)


pack: Callable[[Sequence[Any]], bytes] = _pack
try:  # hiredis comes with the redis extra (redis-py's parser); same bytes, in C
    from hiredis import pack_command as _hiredis_pack
except ImportError:  # pragma: no cover - the extra always installs it
    pass
else:

    def pack(args: Sequence[Any]) -> bytes:
        packed: bytes = _hiredis_pack(tuple(args))
        return packed
