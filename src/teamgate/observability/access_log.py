"""The access log (``logging.access_log: true``): one line per HTTP request.

An ASGI middleware around the gateway: method, path (no query string: it
could carry a token), status, latency in ms, the client key's team (never the
key) and the request id the client got (``x-request-id``), on the logger
``teamgate.access``. Off by default: nothing wraps the app then.

>>> # app = AccessLog(app, team_of=gateway.keys.team_of)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, MutableMapping
from typing import Any

from teamgate.http.asgi import Receive, Scope, Send, header

log = logging.getLogger("teamgate.access")

ASGIApp = Callable[[Scope, Receive, Send], Any]


class AccessLog:
    """Log one line per HTTP request handled by ``app``."""

    def __init__(self, app: ASGIApp, *, team_of: Callable[[bytes | None], str | None]) -> None:
        self.app = app
        self.team_of = team_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        seen: dict[str, Any] = {"status": 0, "request_id": None}

        async def send_and_watch(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                for name, value in message.get("headers", ()):
                    if name.lower() == b"x-request-id":
                        seen["request_id"] = value.decode("latin-1")[:100]
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            method, path = scope["method"], scope["path"][:200]
            status = seen["status"]
            log.info(
                "%s %s %s",
                method,
                path,
                status,
                extra={
                    "method": method,
                    "path": path,
                    "status": status,
                    "latency_ms": round((time.perf_counter() - started) * 1000, 3),
                    "team": self.team_of(header(scope, b"authorization")),
                    "request_id": seen["request_id"],
                },
            )
