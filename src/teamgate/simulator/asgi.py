"""Small raw-ASGI plumbing for the simulator: types, body reading, answering, hanging up.

Cutting a connection from inside an ASGI app is not part of ASGI. Under
uvicorn, raising before ``http.response.start`` does NOT reset the connection:
uvicorn logs "Exception in ASGI application" and answers ``500 Internal Server
Error`` (text/plain). Raising after the start closes the socket (an orderly
FIN) after logging the traceback. So :func:`drop_connection` reaches uvicorn's
transport (``send.__self__.transport``, present in both its httptools and h11
protocols): ``reset`` sets ``SO_LINGER`` to 0 and aborts, so the client gets a
TCP RST; ``close`` flushes what was sent and closes (FIN). It then waits for
uvicorn to see the disconnect, so uvicorn neither logs nor answers a 500. Under
a server without that attribute it raises :class:`SimulatedDisconnect`
(best effort: the server decides what the client sees).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

_LINGER_ZERO = struct.pack("ii", 1, 0)


class SimulatedDisconnect(ConnectionError):
    """Raised when the server offers no way to cut the connection cleanly."""


async def read_body(receive: Receive) -> bytes:
    """The whole request body."""
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body
    parts = [body]
    while message.get("more_body", False):
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        parts.append(message.get("body", b""))
    return b"".join(parts)


async def send_response(send: Send, status: int, headers: Headers, body: bytes) -> None:
    """A complete response in one body message (content-length is added)."""
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def drop_connection(send: Send, receive: Receive, *, reset: bool) -> None:
    """Cut the client's connection now: TCP RST when ``reset``, else FIN. See module doc."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise SimulatedDisconnect("simulated connection drop")
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
        transport.abort()
    else:
        transport.close()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(2.0):
            while (await receive())["type"] != "http.disconnect":
                pass
