"""The bare proxy: teamgate's server and HTTP client, forwarding bytes, nothing else.

Same ASGI server as ``teamgate serve`` (uvicorn with uvloop and httptools, no
access log) and the same upstream client (``teamgate.upstream.client.UpstreamClient``,
one pooled aiohttp session). It reads the request body, swaps the
``Authorization`` header for the upstream key, sends the bytes on, and relays
the answer (streamed answers chunk by chunk). No auth, policy, limits, budget,
pricing or ledger: the practical limit for a Python gateway on this machine.

    python bench/bare_proxy.py --port 9100 --upstream http://127.0.0.1:9000 --key gsk_...
"""

from __future__ import annotations

import argparse
import gc
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

from teamgate.upstream.client import UpstreamClient, forward_headers

# Hop-by-hop response headers, and those uvicorn writes itself; everything else passes.
HOP_BY_HOP = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding"}
    | {"server", "date"}
)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class BareProxy:
    """An ASGI app that forwards every request to ``upstream`` with ``key``."""

    def __init__(self, upstream: str, key: str, max_connections: int = 256) -> None:
        self.client = UpstreamClient(upstream, max_connections=max_connections)
        self.key = key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await self.client.open()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self.client.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        path = scope["path"]
        if path.startswith("/v1/"):
            path = "/openai" + path
        resp = await self.client.send(
            scope["method"], path, body, forward_headers(scope["headers"], self.key)
        )
        try:
            headers = [
                (k.encode("latin-1"), v.encode("latin-1"))
                for k, v in resp.headers.items()
                if k.lower() not in HOP_BY_HOP
            ]
            if resp.headers.get("content-type", "").startswith("text/event-stream"):
                await send(
                    {"type": "http.response.start", "status": resp.status, "headers": headers}
                )
                async for chunk in resp.content.iter_any():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
                return
            data = await resp.read()
            headers.append((b"content-length", str(len(data)).encode()))
            await send({"type": "http.response.start", "status": resp.status, "headers": headers})
            await send({"type": "http.response.body", "body": data})
        finally:
            resp.release()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="base URL, e.g. http://127.0.0.1:9000")
    parser.add_argument("--key", required=True, help="the upstream key to send")
    parser.add_argument("--max-connections", type=int, default=256, help="upstream pool size")
    args = parser.parse_args()
    gc.freeze()  # as teamgate serve does
    uvicorn.run(
        BareProxy(args.upstream, args.key, args.max_connections),
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        server_header=False,
        date_header=True,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
