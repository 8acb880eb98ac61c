"""Background tasks that live as long as the gateway: the one way to stop them.

>>> import asyncio
>>> async def demo() -> bool:
...     task = asyncio.create_task(asyncio.sleep(60))
...     await stop_task(task)
...     return task.cancelled()
>>> asyncio.run(demo())
True
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any


async def stop_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` (if any) and wait until it has finished."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Periodic:
    """Runs ``step`` every ``interval_s`` seconds from a background task, until closed.

    A step that raises is logged (its exception type) and tried again next time.

    >>> async def demo() -> int:
    ...     calls = []
    ...     async def step() -> None:
    ...         calls.append(1)
    ...     every = Periodic("demo", step, 0.001)
    ...     every.start()
    ...     while len(calls) < 2:
    ...         await asyncio.sleep(0.001)
    ...     await every.close()
    ...     return len(calls) >= 2
    >>> asyncio.run(demo())
    True
    """

    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[Any]],
        interval_s: float,
        *,
        log: logging.Logger | None = None,
    ) -> None:
        self.name = name
        self._step = step
        self.interval_s = interval_s
        self._log = log or logging.getLogger("teamgate")
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def _loop(self) -> None:
        while True:
            try:
                await self._step()
            except Exception as exc:
                self._log.error("%s failed (%s); trying again later", self.name, type(exc).__name__)
            await asyncio.sleep(self.interval_s)

    async def close(self) -> None:
        await stop_task(self._task)
        self._task = None
