"""Call an ASGI app directly (no sockets) from synchronous tests, with its lifespan run.

The app lives on its own event loop in a background thread, so hypothesis tests
(synchronous) can make thousands of calls quickly.

>>> # with AsgiHarness(app) as call: status, headers, body = call("GET", "/health")
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: bytes) -> bytes | None:
        return next((v for k, v in self.headers if k == name), None)


class AsgiHarness:
    def __init__(self, app: Any, client: tuple[str, int] = ("10.9.8.7", 40000)) -> None:
        self.app = app
        self.client = client
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.calls = 0

    def _run(self, coro: Coroutine[Any, Any, T], timeout_s: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def __enter__(self) -> AsgiHarness:
        self.thread.start()
        self._run(self._startup())
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._run(self._shutdown())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    async def _startup(self) -> None:
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
        self._lifespan = asyncio.ensure_future(self.app(scope, self._inbox.get, self._outbox.put))
        await self._inbox.put({"type": "lifespan.startup"})
        message = await self._outbox.get()
        assert message["type"] == "lifespan.startup.complete", message

    async def _shutdown(self) -> None:
        await self._inbox.put({"type": "lifespan.shutdown"})
        message = await self._outbox.get()
        assert message["type"] == "lifespan.shutdown.complete", message
        await self._lifespan

    def __call__(
        self,
        method: str,
        path: str,
        headers: list[tuple[bytes, bytes]] | None = None,
        body: bytes | list[bytes] = b"",
        raw_path: bytes | None = None,
    ) -> Answer:
        self.calls += 1
        return self._run(self._request(method, path, headers or [], body, raw_path))

    async def _request(
        self,
        method: str,
        path: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes | list[bytes],
        raw_path: bytes | None,
    ) -> Answer:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": raw_path if raw_path is not None else path.encode("utf-8", "replace"),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": self.client,
            "server": ("127.0.0.1", 8080),
        }
        parts = list(body) if isinstance(body, list) else [body]
        finished = asyncio.Event()
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            if parts:
                chunk = parts.pop(0)
                return {"type": "http.request", "body": chunk, "more_body": bool(parts)}
            await finished.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                finished.set()

        await asyncio.wait_for(self.app(scope, receive, send), 20)
        finished.set()
        assert sent and sent[0]["type"] == "http.response.start", f"no response: {sent}"
        start = sent[0]
        content = b"".join(m.get("body", b"") for m in sent[1:])
        return Answer(start["status"], list(start["headers"]), content)
