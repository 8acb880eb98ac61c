"""One gate in front of every route: failed authentications are slowed the same way everywhere.

:class:`AuthGate` wraps the ASGI ``send`` of every HTTP request the gateway
answers (proxy, models, the endpoints beyond chat, the usage API, the admin
API, the dashboard login, ``/metrics``, on either listener). It does not
know how any route authenticates: it watches the answers. When an answer is
a 401 (an authentication failure; teamgate uses 401 for nothing else), the
gate

1. counts the failure against the client's address (IPv6: its /64), as
   resolved by :class:`~teamgate.http.trusted_proxies.TrustedProxies`;
2. once that address has failed more than ``server.auth_failure_limit`` times
   within a minute, holds the answer for ``server.auth_failure_delay_s``
   before letting it go, and lets at most ``server.auth_failure_concurrency``
   held answers per address wait at once; the others queue behind them. So
   parallel guessing from one address is answered no faster than
   ``concurrency / delay`` failures per second, however many connections it opens.

Answers that are not 401 pass at once: valid credentials are never slowed,
whoever shares their address. Every answer also gets
``X-Content-Type-Options: nosniff``, and, when teamgate itself serves TLS,
``Strict-Transport-Security``.

>>> # gate = AuthGate.from_settings(settings.server)
>>> # await gate.serve(scope, receive, send, app)   # app: the route dispatcher
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable

from teamgate.auth.throttle import AuthFailureThrottle, client_address
from teamgate.config.schema import ServerSettings
from teamgate.http.asgi import Message, Receive, Scope, Send
from teamgate.http.trusted_proxies import TrustedProxies

NOSNIFF = (b"x-content-type-options", b"nosniff")
HSTS = (b"strict-transport-security", b"max-age=31536000")

Dispatch = Callable[[Scope, Receive, Send], Awaitable[None]]


def address_bucket(address: str) -> str:
    """What failures are counted against: the address itself, or an IPv6 address's /64."""
    if ":" not in address:
        return address
    try:
        network = ipaddress.IPv6Network(f"{address}/64", strict=False)
    except ValueError:
        return address
    return str(network)


class AuthGate:
    """The failure throttle, the per-address cap of held failures, and the security headers."""

    def __init__(
        self,
        throttle: AuthFailureThrottle,
        *,
        concurrency: int = 2,
        proxies: TrustedProxies | None = None,
    ) -> None:
        self.throttle = throttle
        self.concurrency = max(1, concurrency)
        self.proxies = proxies or TrustedProxies()
        self._held: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}

    @classmethod
    def from_settings(cls, server: ServerSettings) -> AuthGate:
        return cls(
            AuthFailureThrottle.from_settings(server),
            concurrency=server.auth_failure_concurrency,
            proxies=TrustedProxies.parse(server.trusted_proxies),
        )

    async def serve(self, scope: Scope, receive: Receive, send: Send, app: Dispatch) -> None:
        """Run ``app`` on this request with the gate's ``send``."""
        direct_tls = scope.get("scheme") == "https"
        if self.proxies:
            self.proxies.apply(scope)
        extra = (NOSNIFF, HSTS) if direct_tls else (NOSNIFF,)

        def gated(message: Message) -> Awaitable[None]:
            if message["type"] != "http.response.start":
                return send(message)
            return self._start(scope, send, message, extra)

        await app(scope, receive, gated)

    async def _start(
        self, scope: Scope, send: Send, message: Message, extra: tuple[tuple[bytes, bytes], ...]
    ) -> None:
        message = {**message, "headers": [*message.get("headers", ()), *extra]}
        if message["status"] == 401:
            await self.failed(client_address(scope))
        await send(message)

    async def failed(self, address: str) -> None:
        """Count one failure from ``address``; return once its answer may be sent."""
        bucket = address_bucket(address)
        delay = self.throttle.failed(bucket)
        if delay <= 0:
            return
        entry = self._held.get(bucket)
        if entry is None:
            entry = self._held[bucket] = (asyncio.Semaphore(self.concurrency), [0])
        slots, users = entry
        users[0] += 1
        try:
            async with slots:
                await asyncio.sleep(delay)
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._held[bucket]

    def held(self, address: str) -> int:
        """Failures from ``address`` being held or queued now (for tests)."""
        entry = self._held.get(address_bucket(address))
        return entry[1][0] if entry else 0
