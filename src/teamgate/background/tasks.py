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
from typing import Any


async def stop_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` (if any) and wait until it has finished."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
