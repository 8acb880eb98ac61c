"""Sending a completion to the client: whole or as SSE, honouring the stream faults.

Each SSE event goes out as its own ASGI body message, so clients really see a
stream. ``cut`` is called to hang up mid-response (``stream_break``); the
functions return True when the client got the complete answer (Groq bills it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from teamgate.simulator.asgi import Headers, Receive, Send, send_response
from teamgate.simulator.completions import DONE_EVENT, Completion
from teamgate.simulator.faults import FaultPlan

Cut = Callable[[], Awaitable[None]]
JSON_CONTENT = (b"content-type", b"application/json")
_SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


async def deliver_whole(
    send: Send, completion: Completion, plan: FaultPlan, headers: Headers, cut: Cut
) -> bool:
    """The non-streaming body; ``stream_break`` sends half of it and hangs up."""
    body = completion.body()
    if plan.stream_break_after is None:
        await send_response(send, 200, [JSON_CONTENT, *headers], body)
        return True
    length = (b"content-length", str(len(body)).encode())
    await send(
        {"type": "http.response.start", "status": 200, "headers": [JSON_CONTENT, *headers, length]}
    )
    await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
    await cut()
    return False


async def deliver_stream(
    send: Send,
    completion: Completion,
    plan: FaultPlan,
    headers: Headers,
    cut: Cut,
    *,
    chunk_tokens: int,
    include_usage: bool,
    receive: Receive | None = None,
) -> bool:
    """The SSE events: role chunk, content chunks, final chunk, usage chunk, ``[DONE]``.

    A slow stream (``chunk_s``) stops when the client hangs up, as Groq stops generating.
    """
    events = completion.stream(
        chunk_tokens, include_usage=include_usage, with_usage=not plan.stream_no_usage
    )
    await send({"type": "http.response.start", "status": 200, "headers": [*_SSE, *headers]})
    await send({"type": "http.response.body", "body": events.role, "more_body": True})
    delay = plan.chunk_delay_s
    hung_up = asyncio.create_task(_disconnected(receive)) if delay and receive else None
    try:
        for index, event in enumerate(events.contents):
            if hung_up is not None and hung_up.done():
                return False
            if index == plan.stream_break_after or index == plan.stream_error_after:
                break
            if delay:
                await asyncio.sleep(delay)
            await send({"type": "http.response.body", "body": event, "more_body": True})
    finally:
        if hung_up is not None:
            hung_up.cancel()
    if plan.stream_break_after is not None:
        await cut()
        return False
    if plan.stream_error_after is not None:
        await send({"type": "http.response.body", "body": completion.error_event()})
        return False
    await send({"type": "http.response.body", "body": events.final, "more_body": True})
    if events.usage is not None:
        await send({"type": "http.response.body", "body": events.usage, "more_body": True})
    await send({"type": "http.response.body", "body": DONE_EVENT, "more_body": False})
    return True


async def _disconnected(receive: Receive) -> None:
    """Return once the client has disconnected (the request body was already read)."""
    while (await receive())["type"] != "http.disconnect":
        pass
