"""Slowing down repeated failed authentications from one client address.

A client that keeps presenting bad keys (a key-guessing script, or a service
left with a revoked key in a tight retry loop) gets its 401 answers delayed:
after ``limit`` failures within a minute from one address, each further
failure from that address is answered only after ``delay_s``. Valid keys are
never slowed or refused, whatever their address, so no team is locked out by
a neighbour behind the same NAT. Behind a reverse proxy every client shares
the proxy's address: the slowing then applies to all bad keys together.

Memory is bounded: at most ``max_addresses`` addresses are tracked; the
oldest are forgotten first.

>>> now = [0.0]
>>> throttle = AuthFailureThrottle(limit=2, delay_s=1.0, clock=lambda: now[0])
>>> [throttle.failed("10.0.0.9") for _ in range(4)]
[0.0, 0.0, 1.0, 1.0]
>>> throttle.failed("10.0.0.7")  # another address is not affected
0.0
>>> now[0] = 61.0  # a new minute
>>> throttle.failed("10.0.0.9")
0.0
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from teamgate.config.schema import ServerSettings

log = logging.getLogger("teamgate.auth")


class AuthFailureThrottle:
    """Counts failed authentications per client address in fixed one-minute windows.

    ``limit`` 0 disables the slowing. :meth:`failed` records one failure and
    returns how long to wait before answering it.

    >>> AuthFailureThrottle(limit=0, delay_s=1.0).failed("10.0.0.1")
    0.0
    """

    __slots__ = ("_clock", "_counts", "_max_addresses", "delay_s", "limit", "window_s")

    def __init__(
        self,
        limit: int,
        delay_s: float,
        *,
        window_s: float = 60.0,
        max_addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.delay_s = delay_s
        self.window_s = window_s
        self._max_addresses = max_addresses
        self._clock = clock
        self._counts: dict[str, tuple[float, int]] = {}  # address -> (window start, failures)

    @classmethod
    def from_settings(cls, server: ServerSettings) -> AuthFailureThrottle:
        """The throttle configured by ``server.auth_failure_limit`` / ``auth_failure_delay_s``."""
        return cls(server.auth_failure_limit, server.auth_failure_delay_s)

    def failed(self, address: str) -> float:
        """Record one failed authentication from ``address``; the delay to apply (seconds)."""
        if self.limit <= 0 or self.delay_s <= 0:
            return 0.0
        now = self._clock()
        start, count = self._counts.get(address, (now, 0))
        if now - start >= self.window_s:
            start, count = now, 0
        count += 1
        if address not in self._counts and len(self._counts) >= self._max_addresses:
            self._forget(now)
        self._counts[address] = (start, count)
        if count <= self.limit:
            return 0.0
        if count == self.limit + 1:
            log.warning(
                "client address %s failed authentication %d times within %.0f s; "
                "its further 401s are delayed by %.2f s",
                address,
                self.limit,
                self.window_s,
                self.delay_s,
            )
        return self.delay_s

    def failures(self, address: str) -> int:
        """Failures counted for ``address`` in its current window (for tests and metrics)."""
        entry = self._counts.get(address)
        if entry is None or self._clock() - entry[0] >= self.window_s:
            return 0
        return entry[1]

    def _forget(self, now: float) -> None:
        expired = [a for a, (start, _) in self._counts.items() if now - start >= self.window_s]
        for address in expired:
            del self._counts[address]
        while len(self._counts) >= self._max_addresses:
            del self._counts[next(iter(self._counts))]


def client_address(scope: Mapping[str, Any]) -> str:
    """The peer address of an ASGI HTTP scope (``"unknown"`` when the server gives none)."""
    client = scope.get("client")
    if isinstance(client, list | tuple) and client:
        return str(client[0])
    return "unknown"
