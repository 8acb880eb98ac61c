"""The uvicorn server teamgate runs: a graceful stop on SIGTERM/SIGINT exits 0.

uvicorn re-raises the stop signal after shutting down, so a service manager
sees "killed by SIGTERM" even after a clean stop. teamgate finishes in-flight
requests (up to ``server.grace_period_s``), flushes its ledger in the lifespan
shutdown, and then exits with status 0.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator

import uvicorn


class GracefulServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()
