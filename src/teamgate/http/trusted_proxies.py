"""Who the client is: the TCP peer, unless that peer is a proxy the operator trusts.

``server.trusted_proxies`` lists addresses and CIDR ranges (default: none).
Only a request whose TCP peer is in that list has its ``X-Forwarded-For`` and
``X-Forwarded-Proto`` believed; from anyone else those headers are ignored, so
a client cannot pick the address its failed logins are counted against, nor
claim to be on TLS. uvicorn's own ``proxy_headers`` is switched off wherever
teamgate starts uvicorn: this is the one place forwarded headers are read.

The client address behind a chain of proxies is the right-most
``X-Forwarded-For`` entry that is not itself a trusted proxy (entries further
left were written by the client and prove nothing).

>>> proxies = TrustedProxies.parse(["10.0.0.0/8"])
>>> scope = {"client": ("10.1.2.3", 5000), "scheme": "http",
...          "headers": [(b"x-forwarded-for", b"6.6.6.6, 203.0.113.9, 10.0.0.4"),
...                      (b"x-forwarded-proto", b"https")]}
>>> proxies.apply(scope)
>>> scope["client"], scope["scheme"]
(('203.0.113.9', 0), 'https')
>>> untrusted = {"client": ("198.51.100.7", 5000), "scheme": "http",
...              "headers": [(b"x-forwarded-for", b"1.2.3.4")]}
>>> proxies.apply(untrusted)
>>> untrusted["client"]
('198.51.100.7', 5000)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_network(text: str) -> IPNetwork:
    """An address (``10.0.0.1``) or a CIDR range (``10.0.0.0/8``); ValueError otherwise."""
    return ipaddress.ip_network(text.strip(), strict=False)


class TrustedProxies:
    """The proxies whose forwarded headers are believed (empty: none)."""

    __slots__ = ("_networks",)

    def __init__(self, networks: Iterable[IPNetwork] = ()) -> None:
        self._networks = tuple(networks)

    @classmethod
    def parse(cls, entries: Iterable[str]) -> TrustedProxies:
        return cls(parse_network(entry) for entry in entries)

    def __bool__(self) -> bool:
        return bool(self._networks)

    def trusts(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._networks)

    def apply(self, scope: dict[str, Any] | Any) -> None:
        """Rewrite ``scope['client']`` and ``scope['scheme']`` when the peer is trusted."""
        client = scope.get("client")
        if not self._networks or not client or not self.trusts(str(client[0])):
            return
        forwarded_for: list[str] = []
        proto = None
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                forwarded_for += [p.strip() for p in value.decode("latin-1").split(",")]
            elif name == b"x-forwarded-proto":
                proto = value.decode("latin-1").split(",")[-1].strip().lower()
        if forwarded_for:
            address = self._client_of(forwarded_for)
            if address is not None:
                scope["client"] = (address, 0)
        if proto in ("http", "https"):
            scope["scheme"] = proto

    def _client_of(self, chain: list[str]) -> str | None:
        """The right-most entry that is not a trusted proxy (the left-most if all are)."""
        found = None
        for entry in reversed(chain):
            try:
                ipaddress.ip_address(entry)
            except ValueError:
                break  # garbage: nothing further left can be believed
            found = entry
            if not self.trusts(entry):
                break
        return found
