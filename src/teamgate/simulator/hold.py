"""Hold requests inside the simulator until a test lets them go (the ``hold`` fault).

Deterministic concurrency tests without sleeps: send N requests carrying the
``hold`` fault, ``wait_held(N)`` from the test thread, assert on in-flight
counts, then ``release()``. Call ``wait_held``/``release`` from a thread other
than the server's (e.g. the test thread while :class:`~teamgate.http.serving.ServerThread`
serves).

>>> gate = HoldGate()
>>> gate.held(), gate.release()
(0, 0)
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class HoldGate:
    """Requests wait in :meth:`hold` until :meth:`release` (or their timeout)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    async def hold(self, timeout_s: float) -> None:
        """Wait until released or ``timeout_s`` passes."""
        loop = asyncio.get_running_loop()
        entry = (loop, loop.create_future())
        with self._cond:
            self._waiters.append(entry)
            self._cond.notify_all()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(entry[1], timeout_s)
        finally:
            with self._cond:
                if entry in self._waiters:
                    self._waiters.remove(entry)
                self._cond.notify_all()

    def held(self) -> int:
        """How many requests are waiting now."""
        with self._cond:
            return len(self._waiters)

    def wait_held(self, count: int, timeout_s: float = 10.0) -> bool:
        """Block until at least ``count`` requests wait; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._waiters) >= count, timeout_s)

    def release(self) -> int:
        """Let every waiting request go on; returns how many were waiting."""
        with self._cond:
            waiters = list(self._waiters)
            self._waiters.clear()
            self._cond.notify_all()
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, future)
        return len(waiters)
