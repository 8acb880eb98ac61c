"""Run any ASGI app on uvicorn in a background thread, for tests and demos.

>>> from teamgate.simulator import create_simulator
>>> with ServerThread(create_simulator().app) as url:  # doctest: +SKIP
...     print(url)  # http://127.0.0.1:PORT
"""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import threading
from types import TracebackType
from typing import Any

import uvicorn


def _event_loop_name() -> str:
    return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"


class _NotifyingServer(uvicorn.Server):
    """A uvicorn server that sets a threading event once it listens (or has failed to)."""

    def __init__(self, config: uvicorn.Config, ready: threading.Event) -> None:
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        finally:
            self._ready.set()


class ServerThread:
    """Serve an ASGI app on 127.0.0.1 and a free port, in a daemon thread.

    ``start()`` returns the base URL once the server accepts connections;
    ``stop()`` asks uvicorn to exit and joins the thread. Also a context
    manager whose ``__enter__`` returns the base URL.

    >>> server = ServerThread(app)  # doctest: +SKIP
    >>> base_url = server.start()  # doctest: +SKIP
    >>> server.stop()  # doctest: +SKIP
    """

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        graceful_shutdown_s: float = 2.0,
        start_timeout_s: float = 15.0,
    ) -> None:
        self.app = app
        self.host = host
        self.graceful_shutdown_s = graceful_shutdown_s
        self.start_timeout_s = start_timeout_s
        self.port: int | None = None
        self._server: _NotifyingServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321`` (only after :meth:`start`)."""
        if self.port is None:
            raise RuntimeError("server not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> str:
        """Start serving and return the base URL once the server is ready."""
        if self._thread is not None:
            raise RuntimeError("server already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            loop=_event_loop_name(),
            http="httptools",
            ws="none",
            interface="asgi3",
            lifespan="on",
            log_level="warning",
            access_log=False,
            proxy_headers=False,  # as teamgate serve: forwarded headers only via trusted_proxies
            timeout_graceful_shutdown=max(1, round(self.graceful_shutdown_s)),
        )
        ready = threading.Event()
        server = _NotifyingServer(config, ready)
        self._server = server
        thread = threading.Thread(
            target=self._run, args=(server, sock, ready), name="teamgate-server", daemon=True
        )
        self._thread = thread
        thread.start()
        if not ready.wait(self.start_timeout_s) or not server.started:
            self.stop()
            raise RuntimeError("server failed to start")
        return self.url

    @staticmethod
    def _run(server: _NotifyingServer, sock: socket.socket, ready: threading.Event) -> None:
        try:
            # uvicorn calls sys.exit when the app's startup fails; start() reports it
            with contextlib.suppress(SystemExit):
                server.run(sockets=[sock])
        finally:
            ready.set()
            sock.close()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask the server to exit and wait for its thread (idempotent)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout_s)
        self._thread = None
        self._server = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
