"""Unmetered calls to Groq (listings, object reads, polling): the key's own Groq Project.

Reading a file or a batch costs nothing and leaves no ledger record; it goes
to the Groq Project of the key's own team and environment (objects are private
to both), and Groq's answer is passed back with the team's headers.
"""

from __future__ import annotations

import aiohttp

from teamgate.http.asgi import Scope, Send, send_bytes
from teamgate.ledger.records import ClientKey
from teamgate.lifecycle import answer_headers, payer_of
from teamgate.runtime import Gateway
from teamgate.upstream.forward import Opened, Payload, open_upstream


async def open_for(
    gw: Gateway,
    key: ClientKey,
    scope: Scope,
    body: Payload,
    *,
    path: str,
    method: str = "GET",
) -> Opened:
    """Send a request with the upstream key of ``key``'s team and environment."""
    return await open_upstream(
        gw.client,
        gw.keyring,
        gw.projects[(key.team, key.environment)],
        scope["headers"],
        body,
        path=path,
        method=method,
        retry_429_deadline_s=gw.settings.upstream.retry_429_deadline_s,
    )


async def relay_whole(
    gw: Gateway,
    key: ClientKey,
    send: Send,
    resp: aiohttp.ClientResponse,
    body: bytes | None = None,
) -> bytes:
    """Read Groq's whole answer and send it (or ``body`` in its place); returns Groq's bytes."""
    data = await resp.read()
    headers = answer_headers(gw, payer_of(key), resp)
    await send_bytes(send, resp.status, data if body is None else body, headers)
    return data
