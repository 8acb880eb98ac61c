"""The uvicorn server teamgate runs: a graceful stop on SIGTERM/SIGINT exits 0.

uvicorn re-raises the stop signal after shutting down, so a service manager
sees "killed by SIGTERM" even after a clean stop. teamgate finishes in-flight
requests (up to ``server.grace_period_s``), flushes its ledger in the lifespan
shutdown, and then exits with status 0.

On the first stop signal the app is told to drain (``/readyz`` answers 503
``draining``); with ``server.drain_delay_s`` > 0 the server keeps accepting
and serving that long first, so a load balancer polling ``/readyz`` takes the
instance out before it stops listening. A second signal stops at once.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Generator
from types import FrameType

import uvicorn


class GracefulServer(uvicorn.Server):
    def __init__(
        self,
        config: uvicorn.Config,
        *,
        on_drain: Callable[[], None] | None = None,
        drain_delay_s: float = 0.0,
    ) -> None:
        super().__init__(config)
        self._on_drain = on_drain
        self._drain_delay_s = drain_delay_s
        self._stop_at: float | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._stop_at is None:
            if self._on_drain is not None:
                self._on_drain()
            if self._drain_delay_s > 0:
                self._stop_at = time.monotonic() + self._drain_delay_s
                return  # keep serving; on_tick stops the server when the delay is over
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if self._stop_at is not None and time.monotonic() >= self._stop_at:
            self.should_exit = True
        return await super().on_tick(counter)
