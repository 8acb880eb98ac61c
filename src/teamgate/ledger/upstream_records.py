"""The upstream (Groq) key rows teamgate keeps: state changes and usage.

Names and fingerprints only: a secret's value is never stored, only its
reference (``env:…``, ``file:…``, ``aws-sm:…``, ``gcp-sm:…``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class UpstreamKeyState:
    """A state change of an upstream (Groq) key, or a key added by ``upstream rotate``.

    The config file declares which keys exist; the store keeps what changed since:
    ``state`` (``active``, ``draining``, ``retired``), the order of preference in
    its project (lower first), and for keys added by rotation their secret
    *reference* (``env:…``, ``aws-sm:…``), never the value.
    """

    name: str
    project: str
    state: str  # "active" | "draining" | "retired"
    secret_ref: str
    preferred_order: int
    updated_at: float
    fingerprint: str = ""  # "gsk_…abcd", when known


@dataclass(frozen=True, slots=True)
class UpstreamUsageDelta:
    """Requests sent with one upstream key since the last flush.

    ``by_hour`` maps the start of each UTC hour (unix seconds, a multiple of
    3600) to the requests of that hour; its values add up to ``requests``.
    """

    requests: int
    failures: int
    first_used_at: float
    last_used_at: float
    fingerprint: str
    by_hour: dict[int, int]


@dataclass(frozen=True, slots=True)
class UpstreamKeyUsage:
    """What teamgate knows about one upstream key's traffic: the proof of idleness."""

    name: str
    fingerprint: str
    requests: int
    failures: int
    first_used_at: float | None
    last_used_at: float | None
    requests_24h: int  # in the hourly buckets that overlap the last 24 hours

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> UpstreamKeyUsage:
        """From (name, fingerprint, requests, failures, first, last, requests_24h)."""
        return cls(row[0], row[1], int(row[2]), int(row[3]), row[4], row[5], int(row[6]))
