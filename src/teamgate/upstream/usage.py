"""Counting requests per upstream key between flushes to the store.

The proxy counts every request Groq answered (a 401 also as a failure); the
upstream sync task drains the tally about once a second into
``store.record_upstream_usage``. Only names and fingerprints are kept.

>>> tally = UsageTally()
>>> tally.count("k1", "gsk_…0001", at=7200.5)
>>> tally.count("k1", "gsk_…0001", at=7201.0, failed=True)
>>> delta = tally.drain()["k1"]
>>> delta.requests, delta.failures, delta.by_hour
(2, 1, {7200: 2})
>>> tally.drain()
{}
"""

from __future__ import annotations

from dataclasses import dataclass, field

from teamgate.ledger.upstream_records import UpstreamUsageDelta


@dataclass(slots=True)
class _Counts:
    fingerprint: str
    first: float
    last: float
    requests: int = 0
    failures: int = 0
    by_hour: dict[int, int] = field(default_factory=dict)


class UsageTally:
    """Per-key counts since the last :meth:`drain`. Event-loop only (no locking)."""

    def __init__(self) -> None:
        self._counts: dict[str, _Counts] = {}

    def count(self, name: str, fingerprint: str, at: float, *, failed: bool = False) -> None:
        c = self._counts.get(name)
        if c is None:
            c = self._counts[name] = _Counts(fingerprint, at, at)
        c.requests += 1
        if failed:
            c.failures += 1
        if at < c.first:
            c.first = at
        if at > c.last:
            c.last = at
        hour = int(at) // 3600 * 3600
        c.by_hour[hour] = c.by_hour.get(hour, 0) + 1

    def drain(self) -> dict[str, UpstreamUsageDelta]:
        counts, self._counts = self._counts, {}
        return {
            name: UpstreamUsageDelta(
                c.requests, c.failures, c.first, c.last, c.fingerprint, c.by_hour
            )
            for name, c in counts.items()
        }

    def restore(self, deltas: dict[str, UpstreamUsageDelta]) -> None:
        """Put back a batch the store could not take, to be written next time."""
        for name, d in deltas.items():
            c = self._counts.get(name)
            if c is None:
                c = self._counts[name] = _Counts(d.fingerprint, d.first_used_at, d.last_used_at)
            c.requests += d.requests
            c.failures += d.failures
            c.first = min(c.first, d.first_used_at)
            c.last = max(c.last, d.last_used_at)
            for hour, n in d.by_hour.items():
                c.by_hour[hour] = c.by_hour.get(hour, 0) + n
