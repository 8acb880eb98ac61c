"""ServerThread runs any ASGI app on a free port and stops cleanly."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from teamgate.http.serving import ServerThread


async def hello_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": scope["path"].encode()})


def test_start_returns_a_ready_url_and_stop_frees_the_port() -> None:
    server = ServerThread(hello_app)
    url = server.start()
    assert url == f"http://127.0.0.1:{server.port}"
    assert httpx.get(url + "/ping").text == "/ping"
    server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/ping")
    server.stop()  # idempotent


def test_context_manager_and_two_servers_at_once() -> None:
    with ServerThread(hello_app) as first, ServerThread(hello_app) as second:
        assert first != second
        assert httpx.get(first + "/a").text == "/a"
        assert httpx.get(second + "/b").text == "/b"


def test_failing_startup_raises() -> None:
    async def broken(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()
            await send({"type": "lifespan.startup.failed", "message": "no"})

    server = ServerThread(broken)
    with pytest.raises(RuntimeError, match="failed to start"):
        server.start()
