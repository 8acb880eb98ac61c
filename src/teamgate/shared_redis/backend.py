"""What the two Redis backends (the limit counters and the budget counters) share.

Each has a client, a key prefix of its own below the configured one, leases that
this instance renews from a background task (a SIGKILLed instance stops renewing,
and what it held is reclaimed after at most ``lease_s``), and Lua scripts sent
through one :class:`~teamgate.shared_redis.batching.ScriptBatcher`.
:class:`RedisBackend` holds those and starts and stops the background task; each
backend says what the task does (:meth:`RedisBackend._background`).

>>> import asyncio
>>> class Demo(RedisBackend):
...     async def _background(self) -> None:
...         await asyncio.sleep(60)
>>> async def demo() -> str:
...     backend = Demo(None, "teamgate:demo:", "demo-leases", lease_s=1.0, batcher=None)
...     await backend.start()
...     await backend.close()
...     return repr(backend)
>>> asyncio.run(demo())
"Demo(prefix='teamgate:demo:')"
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from redis.asyncio import Redis

from teamgate.background.tasks import stop_task
from teamgate.shared_redis.batching import ScriptBatcher


def reply_text(value: Any) -> str:
    """A script's reply as text (Redis answers bytes).

    >>> reply_text(b"ok"), reply_text(3)
    ('ok', '3')
    """
    return value.decode() if isinstance(value, bytes) else str(value)


def reply_float(value: Any) -> float:
    """A script's number as a float, ``inf`` included (Lua sends floats as text).

    >>> reply_float(b"1.5"), reply_float(b"inf")
    (1.5, inf)
    """
    text = reply_text(value)
    return math.inf if text in ("inf", "+inf") else float(text)


class RedisBackend:
    """A client, a key prefix, leases of ``lease_s`` seconds renewed in the background,
    and a batcher for the scripts; ``task_name`` names the background task. See the
    module docstring."""

    def __init__(
        self,
        client: Redis,
        prefix: str,
        task_name: str,
        *,
        lease_s: float,
        batcher: ScriptBatcher | None,
    ) -> None:
        if lease_s <= 0:
            raise ValueError("lease_s must be positive")
        self._client = client
        self._prefix = prefix
        self.task_name = task_name
        self.lease_s = lease_s
        self._batcher = batcher or ScriptBatcher(client)
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(prefix={self._prefix!r})"

    async def start(self) -> None:
        """Start the background task (renewing this instance's leases)."""
        if self._task is None:
            self._task = asyncio.create_task(self._background(), name=self.task_name)

    async def close(self) -> None:
        await stop_task(self._task)
        self._task = None

    async def _background(self) -> Any:
        """What runs in the background until :meth:`close`."""
        raise NotImplementedError
