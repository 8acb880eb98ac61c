"""Groq's ``x-ratelimit-*`` response headers, from two leaky counters.

The simulator does not refuse anything on its own (faults do that); it only
announces plausible numbers: requests per day drain at ``limit/86400`` per
second, tokens per minute at ``limit/60`` per second.

>>> clock = iter([0.0, 0.0]).__next__
>>> counter = RateLimitCounter(14400, 6000, clock)
>>> dict(counter.headers(tokens=100))[b"x-ratelimit-remaining-tokens"]
b'5900'
>>> format_duration(179.56), format_duration(7.66), format_duration(0.25)
('2m59.56s', '7.66s', '250ms')
"""

from __future__ import annotations

import threading
from collections.abc import Callable


def format_duration(seconds: float) -> str:
    """Go's ``time.Duration`` style Groq uses: ``2m59.56s``, ``7.66s``, ``250ms``, ``0s``."""
    centis = round(max(seconds, 0.0) * 100)
    if centis == 0:
        return "0s"
    if centis < 100:
        return f"{centis * 10}ms"
    hours, rest = divmod(centis, 360000)
    minutes, rest = divmod(rest, 6000)
    secs = f"{rest / 100:.2f}".rstrip("0").rstrip(".")
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


class RateLimitCounter:
    """Counts requests and tokens and renders Groq's rate-limit headers."""

    def __init__(self, limit_requests: int, limit_tokens: int, clock: Callable[[], float]) -> None:
        self.limit_requests = limit_requests
        self.limit_tokens = limit_tokens
        self._clock = clock
        self._lock = threading.Lock()
        self._last = clock()
        self._used_requests = 0.0
        self._used_tokens = 0.0
        self._limit_requests_bytes = str(limit_requests).encode()
        self._limit_tokens_bytes = str(limit_tokens).encode()
        self._requests_per_s = limit_requests / 86400.0
        self._tokens_per_s = limit_tokens / 60.0

    def headers(self, tokens: int) -> list[tuple[bytes, bytes]]:
        """Count one request of ``tokens`` tokens and return the six headers."""
        with self._lock:
            now = self._clock()
            elapsed = max(now - self._last, 0.0)
            self._last = now
            used_requests = max(self._used_requests - elapsed * self._requests_per_s, 0.0) + 1
            used_tokens = max(self._used_tokens - elapsed * self._tokens_per_s, 0.0) + tokens
            self._used_requests = used_requests
            self._used_tokens = used_tokens
        remaining_requests = max(self.limit_requests - int(used_requests + 0.999999), 0)
        remaining_tokens = max(self.limit_tokens - int(used_tokens + 0.999999), 0)
        reset_requests = used_requests / self._requests_per_s if self._requests_per_s else 0.0
        reset_tokens = used_tokens / self._tokens_per_s if self._tokens_per_s else 0.0
        return [
            (b"x-ratelimit-limit-requests", self._limit_requests_bytes),
            (b"x-ratelimit-limit-tokens", self._limit_tokens_bytes),
            (b"x-ratelimit-remaining-requests", str(remaining_requests).encode()),
            (b"x-ratelimit-remaining-tokens", str(remaining_tokens).encode()),
            (b"x-ratelimit-reset-requests", format_duration(reset_requests).encode()),
            (b"x-ratelimit-reset-tokens", format_duration(reset_tokens).encode()),
        ]

    def reset(self) -> None:
        """Forget everything counted so far."""
        with self._lock:
            self._used_requests = 0.0
            self._used_tokens = 0.0
            self._last = self._clock()
