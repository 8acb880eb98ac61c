"""The chat completions pipeline: policy → limits → budget → upstream → meter → ledger.

One function per stage, each small; :func:`handle_chat` strings them together.
Groq's bytes go back to the client untouched; usage is read on the way past.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import aiohttp
import orjson
from multidict import CIMultiDictProxy

from teamgate.asgi import Receive, Scope, Send, encode_headers, read_body, send_bytes
from teamgate.body_guard import MAX_DEPTH, ambiguous_keys, too_deep
from teamgate.budget import ReservationAbandoned
from teamgate.budget.messages import usd_text
from teamgate.errors import (
    BudgetExceeded,
    GatewayError,
    InvalidRequest,
    RateLimited,
    UpstreamKeyRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from teamgate.ledger.records import ClientKey, UsageRecord
from teamgate.ledger.shutdown import refuse_if_backlogged
from teamgate.limits import ClientGone
from teamgate.policy import ChatPlan, plan_chat
from teamgate.refusal_log import log_refusal
from teamgate.runtime import Gateway
from teamgate.streaming import StreamMeter, Usage, read_usage
from teamgate.tokens import prompt_token_bound
from teamgate.upstream.client import DROP_RESPONSE, forward_headers
from teamgate.upstream.error_body import groq_shaped_error
from teamgate.upstream.pool import UpstreamKey

log = logging.getLogger("teamgate.proxy")

CHAT_PATH = "/openai/v1/chat/completions"
CLIENT_CLOSED = 499  # the status recorded for a client that left before an answer


@dataclass(slots=True)
class Exchange:
    """What one request has gathered so far, for its ledger record."""

    key: ClientKey
    request_id: str
    ts: float
    started: float
    model_requested: str = ""
    model: str = ""
    upstream_key: str = ""
    streamed: bool = False
    queue_s: float = -1.0  # time in admission (limits and budget); -1: never admitted
    upstream_s: float = 0.0  # time waiting on Groq; 0: never reached it


def decode_body(raw: bytes) -> dict[str, object]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(
            f"Request body is not valid JSON: {exc}", code="invalid_json"
        ) from None
    if not isinstance(body, dict):
        raise InvalidRequest("Request body must be a JSON object", code="invalid_json")
    if too_deep(raw, body):
        raise InvalidRequest(
            f"Request body nests deeper than {MAX_DEPTH} levels", code="invalid_json"
        )
    return body


def upstream_body(raw: bytes, body: dict[str, object], plan: ChatPlan) -> bytes:
    """The bytes to send to Groq: the client's own, unless policy had to change them."""
    if plan.model_rewritten or ambiguous_keys(raw):
        changed = dict(body, model=plan.model)
        if plan.cap_injected:
            changed["max_completion_tokens"] = plan.max_completion_tokens
        return orjson.dumps(changed)
    if plan.cap_injected:
        # Insert the cap as the object's first member: no re-encoding of the rest.
        start = raw.index(b"{") + 1
        return b'%s"max_completion_tokens":%d,%s' % (
            raw[:start],
            plan.max_completion_tokens,
            raw[start:],
        )
    return raw


def team_headers(gw: Gateway, team: str, limit_headers: dict[str, str]) -> list[tuple[str, str]]:
    out = list(limit_headers.items())
    remaining = gw.budget.remaining_pico(team)
    if remaining is not None:
        out.append(("x-teamgate-budget-remaining-usd", usd_text(remaining, 6)))
    return out


def record(
    gw: Gateway,
    ex: Exchange,
    *,
    status: int,
    usage: Usage | None = None,
    cost: int = 0,
    groq_id: str = "",
    model_served: str = "",
    source: str = "none",
    refusal: str = "",
    endpoint: str = "chat.completions",
) -> None:
    rec = UsageRecord(
        ts=ex.ts,
        request_id=ex.request_id,
        groq_id=groq_id,
        team=ex.key.team,
        environment=ex.key.environment,
        purpose=ex.key.purpose,
        client_key=ex.key.name,
        upstream_key=ex.upstream_key,
        model_requested=ex.model_requested,
        model_served=model_served or ex.model,
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        cached_tokens=usage.cached_tokens if usage else 0,
        cost_pusd=cost,
        status=status,
        latency_ms=(time.perf_counter() - ex.started) * 1000,
        streamed=ex.streamed,
        usage_source=source,  # type: ignore[arg-type]
        refusal=refusal,
        endpoint=endpoint,
    )
    gw.ledger.append(rec)
    gw.metrics.observe(rec, ex.model, ex.queue_s, ex.upstream_s)
    log_refusal(rec)


async def handle_chat(
    gw: Gateway, scope: Scope, receive: Receive, send: Send, key: ClientKey
) -> None:
    ex = Exchange(key, gw.request_ids.next(), time.time(), time.perf_counter())
    raw = await read_body(scope, receive, gw.settings.server.max_body_bytes)
    try:
        body = decode_body(raw)
        ex.model_requested = str(body.get("model", ""))[:200]
        plan = plan_chat(gw.policies[key.team], body)
    except GatewayError as exc:
        record(gw, ex, status=exc.status, refusal=exc.code)
        exc.headers.update(team_headers(gw, key.team, gw.limiter.headers(key.team)))
        raise
    ex.model, ex.streamed = plan.model, plan.stream
    bound = prompt_token_bound(body)
    worst = gw.prices.worst_case(plan.model, bound, plan.max_completion_tokens)
    refuse_if_backlogged(gw.ledger, gw.settings.storage.max_pending_records)
    gone = ClientWatch(receive)
    waiting = time.perf_counter()
    try:
        ticket = await gw.limiter.admit(
            key.team, plan.model, bound + plan.max_completion_tokens, client_gone=gone
        )
    except RateLimited as exc:
        ex.queue_s = time.perf_counter() - waiting
        record(gw, ex, status=exc.status, refusal=exc.reason)
        exc.headers.update(team_headers(gw, key.team, gw.limiter.headers(key.team)))
        raise
    except ClientGone:
        ex.queue_s = time.perf_counter() - waiting
        record(gw, ex, status=CLIENT_CLOSED)  # left the queue: an outcome, not a refusal
        raise
    try:
        try:
            reservation = await gw.budget.reserve(key.team, worst, client_gone=gone.event)
            ex.queue_s = time.perf_counter() - waiting
        except BudgetExceeded as exc:
            ex.queue_s = time.perf_counter() - waiting
            await ticket.correct(0)
            exc.add_fit(gw.prices.max_completion_fit(plan.model, bound, exc.available_pusd))
            record(gw, ex, status=exc.status, refusal=exc.reason)
            exc.headers.update(team_headers(gw, key.team, ticket.headers()))
            raise
        except ReservationAbandoned:
            await ticket.correct(0)
            record(gw, ex, status=CLIENT_CLOSED)  # left while waiting: an outcome
            raise
        settled = False
        try:
            out = upstream_body(raw, body, plan)
            try:
                usage, cost, _ = await forward(gw, ex, scope, send, out, plan, bound, ticket, gone)
            except UpstreamTimeout as exc:
                if exc.charge_pusd:
                    await reservation.settle(exc.charge_pusd)
                    settled = True
                    await ticket.correct(bound + plan.max_completion_tokens)
                raise
            await reservation.settle(cost)
            settled = True
            await ticket.correct(usage.total_tokens if usage else 0)
        finally:
            if not settled:
                await reservation.release()
                await ticket.correct(0)
    finally:
        await ticket.release()
        gone.close()


class _GoneEvent(asyncio.Event):
    """Set when the client disconnects; waiting on it starts the listening."""

    def __init__(self, watch: ClientWatch) -> None:
        super().__init__()
        self._watch = watch

    async def wait(self) -> Literal[True]:
        self._watch.start()
        return await super().wait()


class ClientWatch:
    """Tells whether the client has gone. Listens only once someone asks.

    Calling it (as the limiter does while queued) or waiting on :attr:`event`
    (as the budget book does) starts a task that reads ``http.disconnect``.
    """

    __slots__ = ("_receive", "_task", "event")

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._task: asyncio.Task[None] | None = None
        self.event = _GoneEvent(self)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._listen())

    def __call__(self) -> bool:
        self.start()
        return self.event.is_set()

    @property
    def gone(self) -> bool:
        return self.event.is_set()

    async def _listen(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self.event.set()
                return

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()


async def forward(
    gw: Gateway,
    ex: Exchange,
    scope: Scope,
    send: Send,
    body: bytes,
    plan: ChatPlan,
    bound: int,
    ticket: object,
    gone: ClientWatch,
) -> tuple[Usage | None, int, str]:
    """Send to Groq (with failover and retries), relay the answer, return (usage, cost, source)."""
    try:
        resp, up_key = await open_upstream(gw, ex, scope, body, plan)
    except UpstreamTimeout as exc:
        charge_timeout(gw, ex, exc, plan, bound)
        raise
    except GatewayError as exc:
        record(gw, ex, status=exc.status)  # Groq does not bill what it did not answer
        raise
    try:
        limit_headers = ticket.headers()  # type: ignore[attr-defined]
        gw.limiter.observe_upstream(plan.model, resp.headers)
        headers = [(k, v) for k, v in resp.headers.items() if k.lower() not in DROP_RESPONSE]
        headers += team_headers(gw, ex.key.team, limit_headers)
        ctype = resp.headers.get("content-type", "")
        if resp.status == 200 and plan.stream and ctype.startswith("text/event-stream"):
            return await relay_stream(gw, ex, send, resp, headers, plan, bound, gone)
        reading = time.perf_counter()
        try:
            data = await read_whole(gw, ex, resp)
        except UpstreamTimeout as exc:
            charge_timeout(gw, ex, exc, plan, bound)
            raise
        ex.upstream_s += time.perf_counter() - reading
        if resp.status != 200:
            data, headers = groq_shaped_answer(resp.status, ctype, data, headers)
        await send_bytes(send, resp.status, data, encode_headers(headers))
        if resp.status != 200:
            # Groq does not bill failed requests.
            record(gw, ex, status=resp.status)
            return None, 0, "none"
        facts = read_usage(data)
        if facts.usage is None:
            usage, source = Usage(bound, plan.max_completion_tokens), "estimated"
        else:
            usage, source = facts.usage, "reported"
        return charge(gw, ex, plan, usage, source, facts.groq_id, facts.model)
    finally:
        resp.release()
        up_key.last_used = time.time()


def charge_timeout(
    gw: Gateway, ex: Exchange, exc: UpstreamTimeout, plan: ChatPlan, bound: int
) -> None:
    """Record a request Groq did not answer in time, charged as if it ran to its cap.

    Groq does not bill its own errors, but a request it received may still run to
    completion and be billed after teamgate gave up waiting. Charging the worst
    case (marked ``estimated``) keeps the budget promise; a timeout before the
    request was sent is charged nothing.
    """
    usage = Usage(bound, plan.max_completion_tokens) if exc.sent else None
    cost = gw.prices.cost(plan.model, bound, plan.max_completion_tokens) if exc.sent else 0
    exc.charge_pusd = cost
    record(
        gw,
        ex,
        status=exc.status,
        usage=usage,
        cost=cost,
        source="estimated" if exc.sent else "none",
    )


async def read_whole(gw: Gateway, ex: Exchange, resp: aiohttp.ClientResponse) -> bytes:
    """The whole upstream body; a body cut off or stalled is a 502/504 (nothing sent yet)."""
    try:
        return await resp.read()
    except TimeoutError:
        raise UpstreamTimeout("Groq did not finish its answer in time.") from None
    except aiohttp.ClientError as exc:
        error = UpstreamUnavailable(f"Groq's answer was cut off: {type(exc).__name__}")
    record(gw, ex, status=error.status)
    raise error


def groq_shaped_answer(
    status: int, ctype: str, data: bytes, headers: list[tuple[str, str]]
) -> tuple[bytes, list[tuple[str, str]]]:
    """Groq's error as it sent it, or (a plain-text/HTML one) made Groq-shaped JSON."""
    shaped = groq_shaped_error(status, ctype, data)
    if shaped is None:
        return data, headers
    kept = [(k, v) for k, v in headers if k.lower() != "content-type"]
    return shaped, [*kept, ("content-type", "application/json")]


async def open_upstream(
    gw: Gateway,
    ex: Exchange,
    scope: Scope,
    body: bytes | Callable[[], object] | None,
    plan: ChatPlan | None = None,
    *,
    path: str = CHAT_PATH,
    method: str = "POST",
    content_type: str | None = None,
) -> tuple[aiohttp.ClientResponse, UpstreamKey]:
    """Send the request; fail over on rejected keys, retry once on 5xx, wait out short 429s.

    ``body`` is bytes, None, or a factory called once per attempt for a fresh
    streamed payload (an upload that is re-sent on failover). ``content_type``
    replaces the client's (a re-encoded multipart body has a new boundary).
    """
    project = gw.projects[(ex.key.team, ex.key.environment)]
    tried: set[str] = set()
    deadline = time.monotonic() + gw.settings.upstream.retry_429_deadline_s
    server_retry_used = False
    while True:
        now = time.time()
        up = project.choose(now, frozenset(tried))
        if up is None:
            if tried and all(k.failed_until > now for k in project.keys if k.name in tried):
                raise UpstreamKeyRejected(
                    f"Groq rejected every upstream key of project `{project.project}`. "
                    "The operator has been alerted."
                )
            raise UpstreamKeyRejected(
                f"No usable upstream key for project `{project.project}`. "
                "The operator has been alerted."
            )
        secret = up.secret  # a secret changed meanwhile is not blamed for this request's 401
        ex.upstream_key = up.name
        headers = forward_headers(scope["headers"], up.secret)
        if content_type is not None:
            headers["content-type"] = content_type
        data = body() if callable(body) else body
        sending = time.perf_counter()
        try:
            resp = await gw.client.send(method, path, data, headers)
            ex.upstream_s += time.perf_counter() - sending
        except TimeoutError as exc:
            sent = not isinstance(exc, aiohttp.ConnectionTimeoutError)
            raise UpstreamTimeout("Groq did not answer in time.", sent=sent) from None
        except aiohttp.ClientError as exc:
            # Typically a pooled keep-alive connection the far end had just closed:
            # try once more, on another key of the project when there is one.
            if not server_retry_used:
                server_retry_used = True
                if len(project.keys) > 1:
                    tried.add(up.name)
                continue
            raise UpstreamUnavailable(f"Could not reach Groq: {type(exc).__name__}") from None
        up.requests += 1
        gw.keyring.count(up, now, failed=resp.status == 401)
        if resp.status == 401:
            resp.release()
            gw.keyring.reject(project, up, secret, now)
            tried.add(up.name)
            continue
        if resp.status == 429:
            wait = retry_after(resp.headers)
            if wait is not None and time.monotonic() + wait <= deadline:
                resp.release()
                await asyncio.sleep(wait)
                continue
            return resp, up
        if resp.status >= 500 and not server_retry_used:
            alternative = project.choose(now, frozenset({*tried, up.name}))
            if alternative is not None:
                server_retry_used = True
                resp.release()
                tried.add(up.name)
                continue
        return resp, up


def retry_after(headers: CIMultiDictProxy[str]) -> float | None:
    """Groq's requested wait in seconds (``retry-after-ms`` first), or None."""
    get = headers.get
    ms = get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    seconds = get("retry-after")
    if seconds:
        try:
            return max(0.0, float(seconds))
        except ValueError:
            return None
    return None


async def close_when_gone(gone: ClientWatch, resp: aiohttp.ClientResponse) -> None:
    """Close the upstream response as soon as the client disconnects (Groq stops generating)."""
    await gone.event.wait()
    resp.close()


async def relay_stream(
    gw: Gateway,
    ex: Exchange,
    send: Send,
    resp: aiohttp.ClientResponse,
    headers: list[tuple[str, str]],
    plan: ChatPlan,
    bound: int,
    gone: ClientWatch,
    *,
    meter: StreamMeter | None = None,
    endpoint: str = "chat.completions",
) -> tuple[Usage | None, int, str]:
    """Relay an SSE stream as it comes; ``meter`` reads its usage (chat's by default)."""
    meter = StreamMeter() if meter is None else meter
    gone()  # start listening: a client that leaves mid-stream cancels the upstream request
    closer = asyncio.create_task(close_when_gone(gone, resp))
    await send({"type": "http.response.start", "status": 200, "headers": encode_headers(headers)})
    broken = ""
    relaying = time.perf_counter()
    try:
        async for chunk in resp.content.iter_any():
            meter.feed(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if gone.gone:
                break
    except (TimeoutError, aiohttp.ClientError) as exc:
        broken = f"upstream stream broke: {type(exc).__name__}"
    except OSError:
        broken = "client disconnected"
    finally:
        closer.cancel()
        ex.upstream_s += time.perf_counter() - relaying
    if gone.gone:
        broken = "client disconnected"
        resp.close()
    elif not broken and not meter.done:
        broken = "upstream stream ended without [DONE]"
    if broken.startswith("upstream") and meter.error is None:
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
    with contextlib.suppress(OSError):
        await send({"type": "http.response.body", "body": b""})
    if meter.usage is not None:
        usage, source = meter.usage, "reported"  # Groq's own figure, even if the end was lost
    else:
        usage = Usage(bound, meter.estimated_completion_tokens(plan.max_completion_tokens))
        source = "estimated"
    if broken:
        log.warning("stream for team %s cut (%s); usage %s", ex.key.team, broken, source)
    return charge(gw, ex, plan, usage, source, meter.groq_id, meter.model, endpoint)


def charge(
    gw: Gateway,
    ex: Exchange,
    plan: ChatPlan,
    usage: Usage,
    source: str,
    groq_id: str,
    model_served: str,
    endpoint: str = "chat.completions",
) -> tuple[Usage, int, str]:
    """Price an answered request and record it; (usage, cost, source) for settling."""
    cost = gw.prices.cost(
        plan.model, usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens
    )
    record(
        gw,
        ex,
        status=200,
        usage=usage,
        cost=cost,
        groq_id=groq_id,
        model_served=model_served,
        source=source,
        endpoint=endpoint,
    )
    return usage, cost, source
