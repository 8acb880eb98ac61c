"""Noticing a client that left: cheap until someone asks.

>>> # watch = ClientWatch(receive); watch() -> False while the client is there
"""

from __future__ import annotations

import asyncio
from typing import Literal

from teamgate.asgi import Receive


class _GoneEvent(asyncio.Event):
    """Set when the client disconnects; waiting on it starts the listening."""

    def __init__(self, watch: ClientWatch) -> None:
        super().__init__()
        self._watch = watch

    async def wait(self) -> Literal[True]:
        self._watch.start()
        return await super().wait()


class ClientWatch:
    """Tells whether the client has gone. Listens only once someone asks.

    Calling it (as the limiter does while queued) or waiting on :attr:`event`
    (as the budget book does) starts a task that reads ``http.disconnect``;
    a request admitted at once never starts one.
    """

    __slots__ = ("_receive", "_task", "event")

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._task: asyncio.Task[None] | None = None
        self.event = _GoneEvent(self)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._listen())

    def __call__(self) -> bool:
        self.start()
        return self.event.is_set()

    @property
    def gone(self) -> bool:
        return self.event.is_set()

    @property
    def listening(self) -> bool:
        """True once someone asked (the request waited somewhere)."""
        return self._task is not None

    async def _listen(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self.event.set()
                return

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
