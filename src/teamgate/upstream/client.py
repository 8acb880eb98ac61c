"""The pooled HTTP client that carries requests to Groq.

One ``aiohttp.ClientSession`` with a bounded keep-alive pool, opened in the
app's lifespan. The client's own ``Authorization`` is never forwarded: the
request goes out with the upstream key chosen for the team's project.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import aiohttp

from teamgate.http.errors import InvalidRequest

LARGE_BODY = 2**20  # bytes; larger bodies are handed to aiohttp as a stream

# Request headers forwarded to Groq: an allow-list. Anything else a client sends
# (the gateway's own x-admin-key, x-api-key, cookies, x-forwarded-*, forwarded,
# x-real-ip, via, origin, referer, groq-organization, openai-organization/-project,
# tracing headers, ...) stays here. Content and its negotiation, what the groq and
# openai SDKs send (user-agent, x-stainless-* platform and retry headers,
# idempotency-key), and the two test-control headers of teamgate's own simulator.
_FORWARD_REQUEST = frozenset(
    {
        b"content-type",
        b"accept",
        b"user-agent",
        b"idempotency-key",
        b"x-sim-fault",  # teamgate's simulator only; meaningless to Groq
        b"x-sim-completion-tokens",
    }
)
_FORWARD_PREFIX = b"x-stainless-"

# Response headers never passed back: hop-by-hop ones, and Groq's org-wide
# rate-limit headers, which teamgate replaces with the team's own.
DROP_RESPONSE = frozenset(
    {
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "content-encoding",
        "server",
        "date",
        "x-ratelimit-limit-requests",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests",
        "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-tokens",
        "set-cookie",
        "x-content-type-options",  # teamgate sets its own on every answer
        "strict-transport-security",  # and its own HSTS when it serves TLS
    }
)
DROP_RESPONSE_RAW = frozenset(name.encode() for name in DROP_RESPONSE)


def forward_headers(raw: Iterable[tuple[bytes, bytes]], secret: str) -> dict[str, str]:
    """The request headers to send upstream: the allow-listed ones of the client's, and
    the upstream key as ``Authorization`` (the client's own never leaves)."""
    out = {"authorization": f"Bearer {secret}"}
    for name, value in raw:
        if name in _FORWARD_REQUEST or name.startswith(_FORWARD_PREFIX):
            out[name.decode("latin-1")] = value.decode("latin-1")
    return out


class UpstreamClient:
    """A keep-alive pool to one upstream base URL.

    >>> # client = UpstreamClient("https://api.groq.com", timeout_s=60)
    >>> # await client.open(); resp = await client.send("POST", "/openai/v1/chat/completions", ...)
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 60.0,
        connect_timeout_s: float = 5.0,
        max_connections: int = 256,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=connect_timeout_s, sock_read=timeout_s
        )
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            keepalive_timeout=4,  # below common server keep-alive timeouts (uvicorn: 5 s)
            enable_cleanup_closed=False,
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            auto_decompress=True,
            skip_auto_headers=("User-Agent",),
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(
        self, method: str, path: str, body: object, headers: dict[str, str]
    ) -> aiohttp.ClientResponse:
        """Start a request; the caller reads (or streams) and releases the response.

        ``body``: bytes, None, or anything aiohttp streams (an async iterable).
        """
        assert self._session is not None, "UpstreamClient.open() was not called"
        data = body
        if isinstance(body, bytes) and len(body) > LARGE_BODY:
            data = io.BytesIO(body)  # aiohttp warns (ResourceWarning) on large raw bytes
        try:
            return await self._session.request(
                method, self.base_url + path, data=data, headers=headers, allow_redirects=False
            )
        except ValueError as exc:
            if "header" not in str(exc).lower():
                raise
            # aiohttp refuses to write a header with a control character (an injection
            # attempt); an HTTP server never delivers one, but refuse it cleanly anyway.
            raise InvalidRequest(
                "A request header contains a forbidden control character.",
                code="invalid_header",
            ) from None
