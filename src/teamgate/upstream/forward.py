"""Sending one request to Groq: key failover on 401, one retry on 5xx, short 429s waited out.

:func:`open_upstream` takes the pooled client, the key ring and the project
(a team's environment) — not the whole gateway — and returns the response
with the key that got it and the seconds spent waiting on Groq. The caller
reads (or streams) the response and releases it explicitly.

>>> retry_after({"retry-after-ms": "1500"}), retry_after({"retry-after": "2"})
(1.5, 2.0)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import aiohttp

from teamgate.http.errors import UpstreamKeyRejected, UpstreamTimeout, UpstreamUnavailable
from teamgate.upstream.client import UpstreamClient, forward_headers
from teamgate.upstream.keyring import KeyRing
from teamgate.upstream.pool import ProjectKeys, UpstreamKey

# A request body: bytes, None, or a factory called once per attempt for a fresh
# streamed payload (an upload that is re-sent on failover).
Payload = bytes | Callable[[], object] | None


@dataclass(slots=True)
class Opened:
    """Groq's response (headers read, body not yet), the key that got it, the wait."""

    resp: aiohttp.ClientResponse
    key: UpstreamKey
    upstream_s: float


class UpstreamAttempt:
    """The key last used while opening (known even when opening fails)."""

    __slots__ = ("key_name", "upstream_s")

    def __init__(self) -> None:
        self.key_name = ""
        self.upstream_s = 0.0


async def open_upstream(
    client: UpstreamClient,
    keyring: KeyRing,
    project: ProjectKeys,
    client_headers: Iterable[tuple[bytes, bytes]],
    body: Payload,
    *,
    path: str,
    method: str = "POST",
    content_type: str | None = None,
    retry_429_deadline_s: float = 10.0,
    attempt: UpstreamAttempt | None = None,
    extra_headers: Sequence[tuple[str, str]] = (),
) -> Opened:
    """Send the request; fail over on rejected keys, retry once on 5xx, wait out short 429s.

    ``content_type`` replaces the client's (a re-encoded multipart body has a new
    boundary). Raises :class:`UpstreamTimeout` (``sent`` tells whether Groq may have
    received it), :class:`UpstreamUnavailable` or :class:`UpstreamKeyRejected`.
    ``attempt`` (optional) is filled in as keys are tried, for the caller's record.
    ``extra_headers`` are teamgate's own (a ``traceparent`` when tracing is on).
    """
    attempt = attempt if attempt is not None else UpstreamAttempt()
    raw_headers = list(client_headers)
    tried: set[str] = set()
    deadline = time.monotonic() + retry_429_deadline_s
    server_retry_used = False
    while True:
        now = time.time()
        up = project.choose(now, frozenset(tried))
        if up is None:
            raise _no_key(project, tried, now)
        secret = up.secret  # a secret changed meanwhile is not blamed for this request's 401
        attempt.key_name = up.name
        headers = forward_headers(raw_headers, secret)
        headers.update(extra_headers)
        if content_type is not None:
            headers["content-type"] = content_type
        data = body() if callable(body) else body
        sending = time.perf_counter()
        try:
            resp = await client.send(method, path, data, headers)
        except TimeoutError as exc:
            attempt.upstream_s += time.perf_counter() - sending
            sent = not isinstance(exc, aiohttp.ConnectionTimeoutError)
            raise UpstreamTimeout("Groq did not answer in time.", sent=sent) from None
        except aiohttp.ClientError as exc:
            attempt.upstream_s += time.perf_counter() - sending
            # Typically a pooled keep-alive connection the far end had just closed:
            # try once more, on another key of the project when there is one.
            if not server_retry_used:
                server_retry_used = True
                if len(project.keys) > 1:
                    tried.add(up.name)
                continue
            raise UpstreamUnavailable(f"Could not reach Groq: {type(exc).__name__}") from None
        attempt.upstream_s += time.perf_counter() - sending
        up.requests += 1
        keyring.count(up, now, failed=resp.status == 401)
        if resp.status == 401:
            resp.release()
            keyring.reject(project, up, secret, now)
            tried.add(up.name)
            continue
        if resp.status == 429:
            wait = retry_after(resp.headers)
            if wait is not None and time.monotonic() + wait <= deadline:
                resp.release()
                await asyncio.sleep(wait)
                continue
            return Opened(resp, up, attempt.upstream_s)
        if resp.status >= 500 and not server_retry_used:
            alternative = project.choose(now, frozenset({*tried, up.name}))
            if alternative is not None:
                server_retry_used = True
                resp.release()
                tried.add(up.name)
                continue
        return Opened(resp, up, attempt.upstream_s)


def _no_key(project: ProjectKeys, tried: set[str], now: float) -> UpstreamKeyRejected:
    if tried and all(k.failed_until > now for k in project.keys if k.name in tried):
        return UpstreamKeyRejected(
            f"Groq rejected every upstream key of project `{project.project}`. "
            "The operator has been alerted."
        )
    return UpstreamKeyRejected(
        f"No usable upstream key for project `{project.project}`. The operator has been alerted."
    )


def retry_after(headers: Mapping[str, str]) -> float | None:
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
