"""Passing Groq's answer back: its bytes untouched, Groq's org headers swapped for the team's.

>>> from teamgate.ledger.records import ClientKey
>>> ex = new_exchange(ClientKey("ops-prod-web", "h", "tg_…abcd", "ops", "prod", "web", 0.0))
>>> ex.request_id.startswith("req_"), len(ex.request_id)
(True, 30)
"""

from __future__ import annotations

import time
import uuid

import aiohttp

from teamgate.asgi import Send, encode_headers, send_bytes
from teamgate.ledger.records import ClientKey
from teamgate.proxy import Exchange, team_headers
from teamgate.runtime import Gateway
from teamgate.upstream.client import DROP_RESPONSE


def new_exchange(key: ClientKey) -> Exchange:
    """A fresh :class:`Exchange` for one request of ``key``."""
    return Exchange(key, "req_" + uuid.uuid4().hex[:26], time.time(), time.perf_counter())


def response_headers(
    gw: Gateway, team: str, resp: aiohttp.ClientResponse, limit_headers: dict[str, str]
) -> list[tuple[str, str]]:
    headers = [(k, v) for k, v in resp.headers.items() if k.lower() not in DROP_RESPONSE]
    return headers + team_headers(gw, team, limit_headers)


async def relay_whole(
    gw: Gateway,
    ex: Exchange,
    send: Send,
    resp: aiohttp.ClientResponse,
    limit_headers: dict[str, str],
    body: bytes | None = None,
) -> bytes:
    """Read Groq's whole answer and send it (or ``body`` in its place); returns Groq's bytes."""
    data = await resp.read()
    headers = response_headers(gw, ex.key.team, resp, limit_headers)
    await send_bytes(send, resp.status, data if body is None else body, encode_headers(headers))
    return data
