"""Noticing a client that left: cheap until someone asks.

>>> # watch = ClientWatch(receive); watch() -> False while the client is there
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Literal

from teamgate.http.asgi import Receive


class ClientWatch(asyncio.Event):
    """Tells whether the client has gone. Listens only once someone asks.

    Calling it (as the limiter does while queued) or waiting on it (as the
    budget book and the stream relay do, through :attr:`event`) starts a task
    that reads ``http.disconnect``; the event is set when the client leaves.
    A request admitted at once never starts one.

    It holds no reference cycle: the watch *is* its event, and :meth:`close`
    drops the listening task, so a request's watch is freed by reference
    counting when the request ends, not left for the cycle collector (under
    load, per-request cycles are what made the gateway's memory grow;
    tests/e2e/memory/test_reference_cycles.py keeps them out).
    """

    __slots__ = ("_asked", "_on_gone", "_receive", "_task")

    def __init__(self, receive: Receive) -> None:
        super().__init__()
        self._receive = receive
        self._task: asyncio.Task[None] | None = None
        self._asked = False
        self._on_gone: Callable[[], object] | None = None

    def on_gone(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` as soon as the client leaves (the stream relay closes Groq's
        response with it: no task of its own per stream); starts listening."""
        if self.is_set():
            callback()
            return
        self._on_gone = callback
        self.start()

    @property
    def event(self) -> ClientWatch:
        """The event set when the client leaves (the watch itself)."""
        return self

    def start(self) -> None:
        if not self._asked:
            self._asked = True
            self._task = asyncio.create_task(self._listen())

    async def wait(self) -> Literal[True]:
        self.start()
        return await super().wait()

    def __call__(self) -> bool:
        self.start()
        return self.is_set()

    @property
    def gone(self) -> bool:
        return self.is_set()

    async def _listen(self) -> None:
        receive = self._receive
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.set()
                callback, self._on_gone = self._on_gone, None
                if callback is not None:
                    callback()
                return

    def close(self) -> None:
        self._on_gone = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
