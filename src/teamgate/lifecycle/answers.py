"""Passing Groq's answer on: read whole, or relayed as server-sent events as they come.

Each function decides the request's :class:`~teamgate.lifecycle.Outcome` where it sees it
(a timeout while reading, a cut stream, a client that left mid-answer) and bills what the
meter read; :meth:`teamgate.lifecycle.MeteredRequest.relay` chooses between them.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import TYPE_CHECKING

import aiohttp

from teamgate.http.asgi import Send
from teamgate.http.errors import GatewayError, UpstreamTimeout, UpstreamUnavailable
from teamgate.lifecycle.outcome import Outcome
from teamgate.lifecycle.watch import ClientWatch

if TYPE_CHECKING:
    from teamgate.lifecycle.metered import MeteredRequest

log = logging.getLogger("teamgate.lifecycle")


async def read_whole(mr: MeteredRequest, resp: aiohttp.ClientResponse) -> bytes:
    """Groq's whole answer; a timeout or a cut connection decides the outcome and raises."""
    reading = time.perf_counter()
    try:
        data = await resp.read()
    except TimeoutError:
        error = UpstreamTimeout("Groq did not finish its answer in time.")
        mr.decide(Outcome.UPSTREAM_TIMEOUT_AFTER_SEND, error.status)
        raise error from None
    except aiohttp.ClientError as exc:
        cut = UpstreamUnavailable(f"Groq's answer was cut off: {type(exc).__name__}")
        mr.decide(Outcome.UPSTREAM_UNREACHABLE, cut.status)
        raise cut from None
    mr.upstream.upstream_s += time.perf_counter() - reading
    return data


async def relay_stream(
    mr: MeteredRequest, resp: aiohttp.ClientResponse, headers: list[tuple[bytes, bytes]]
) -> None:
    """Relay an SSE stream as it comes; a client that leaves cancels Groq's work."""
    assert mr.meter is not None
    meter = mr.meter.stream()
    send = mr.send
    gone = mr.watch if mr.watch is not None else ClientWatch(mr.receive)
    mr.watch = gone
    # A client that leaves mid-stream closes Groq's response (Groq stops generating).
    gone.on_gone(resp.close)
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    broken = ""
    relaying = time.perf_counter()
    # One message, its body swapped per chunk: the server reads it before send returns.
    message = {"type": "http.response.body", "body": b"", "more_body": True}
    try:
        async for chunk in resp.content.iter_any():
            meter.feed(chunk)
            message["body"] = chunk
            await send(message)
            if gone.is_set():
                break
    except (TimeoutError, aiohttp.ClientError) as exc:
        broken = f"upstream stream broke: {type(exc).__name__}"
    except OSError:
        broken = "client disconnected"
    finally:
        mr.upstream.upstream_s += time.perf_counter() - relaying
    if gone.gone:
        broken = "client disconnected"
        resp.close()
    elif not broken and not meter.done:
        broken = "upstream stream ended without [DONE]"
    if broken.startswith("upstream") and meter.error is None:
        await _send_stream_error(send)
    with contextlib.suppress(OSError):
        await send({"type": "http.response.body", "body": b""})
    mr.bill = mr.meter.streamed(meter)
    if not broken:
        mr.decide(Outcome.SERVED, 200)
        return
    gone_mid = broken == "client disconnected"
    mr.decide(Outcome.CLIENT_GONE_MID_ANSWER if gone_mid else Outcome.STREAM_CUT, 200)
    log.warning("stream for team %s cut (%s); usage %s", mr.key.team, broken, mr.bill.source)


async def _send_stream_error(send: Send) -> None:
    error = GatewayError(
        "The upstream stream was interrupted before it completed.",
        code="stream_interrupted",
        type="server_error",
    )
    with contextlib.suppress(OSError):
        await send(
            {
                "type": "http.response.body",
                "body": b"data: " + error.body() + b"\n\n",
                "more_body": True,
            }
        )
