"""A script batcher whose Redis can be switched off and on again, for outage tests.

While ``down`` is set every script call fails as an unreachable Redis fails
(redis's ``ConnectionError``), at once; the client itself is untouched, so what
was stored before the outage is there after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError

from teamgate.shared_redis.batching import BatchedScript, ScriptBatcher


class OutageBatcher(ScriptBatcher):
    down = False

    def submit(
        self, script: BatchedScript, keys: Sequence[Any], args: Sequence[Any]
    ) -> asyncio.Future[Any]:
        if not self.down:
            return super().submit(script, keys, args)
        failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        failed.set_exception(RedisConnectionError("Redis is down (an outage test)"))
        return failed
