"""What the simulator received, per upstream key, for tests to assert on.

Written from the server's event loop, read from the test thread: every
mutation and every read takes one lock; reads return copies.

>>> state = SimulatorState()
>>> record = state.begin("gsk_abcd1234", "Bearer gsk_abcd1234", None)
>>> state.finish(record, 200, billed=(10, 4))
>>> state.request_count("gsk_abcd1234"), state.billed("gsk_abcd1234")
(1, (10, 4))
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

MAX_RECORDED = 1000


def key_fingerprint(key: str) -> str:
    """``gsk_…`` plus the last 4 characters: safe to print."""
    prefix = key.split("_", 1)[0] + "_" if "_" in key[:8] else ""
    return f"{prefix}…{key[-4:]}"


@dataclass(slots=True)
class RecordedRequest:
    """One request as received. ``status`` is filled in once the answer is decided."""

    key: str | None
    method: str
    path: str
    headers: dict[str, str]
    body: Any = None
    model: str | None = None
    stream: bool = False
    max_completion_tokens: int | None = None
    max_tokens: int | None = None
    status: int | None = None
    fault: str | None = None
    raw: bytes | None = None  # the body bytes as received (endpoints beyond chat)


@dataclass(slots=True)
class KeyStats:
    """Counters for one upstream key (or for all requests without a usable key)."""

    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    successes: int = 0
    recent: deque[RecordedRequest] = field(default_factory=lambda: deque(maxlen=MAX_RECORDED))


@dataclass(slots=True)
class InFlight:
    """A handle returned by :meth:`SimulatorState.begin`; pass it to ``finish``."""

    key: str | None
    record: RecordedRequest | None
    epoch: int
    finished: bool = False


class SimulatorState:
    """Per-key recording: requests, in-flight peaks, billed tokens, auth values seen.

    >>> state = SimulatorState()
    >>> state.max_in_flight()
    0
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str | None, KeyStats] = {}
        self._recent: deque[RecordedRequest] = deque(maxlen=MAX_RECORDED)
        self._authorizations: set[str] = set()
        self._in_flight = 0
        self._max_in_flight = 0
        self._total = 0
        self._epoch = 0

    # -- writing (the app) -------------------------------------------------

    def begin(
        self, key: str | None, authorization: str | None, record: RecordedRequest | None
    ) -> InFlight:
        """Count a request as received and in flight."""
        with self._lock:
            stats = self._keys.get(key)
            if stats is None:
                stats = self._keys[key] = KeyStats()
            stats.requests += 1
            stats.in_flight += 1
            stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
            self._total += 1
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            if authorization is not None and authorization not in self._authorizations:
                self._authorizations.add(authorization)
            if record is not None:
                stats.recent.append(record)
                self._recent.append(record)
            epoch = self._epoch
        return InFlight(key, record, epoch)

    def finish(
        self,
        handle: InFlight,
        status: int | None = None,
        billed: tuple[int, int] | None = None,
    ) -> None:
        """End a request. ``billed`` is ``(prompt, completion)`` tokens of a complete
        successful answer (counted as a success); None bills nothing. Idempotent."""
        with self._lock:
            if handle.finished:
                return
            handle.finished = True
            if handle.epoch != self._epoch:  # begun before a reset: forgotten
                return
            stats = self._keys[handle.key]
            stats.in_flight -= 1
            self._in_flight -= 1
            if billed is not None:
                stats.successes += 1
                stats.prompt_tokens += billed[0]
                stats.completion_tokens += billed[1]
        if handle.record is not None and status is not None:
            handle.record.status = status

    def reset(self) -> None:
        """Forget everything (in-flight counts of running requests included)."""
        with self._lock:
            self._keys.clear()
            self._recent.clear()
            self._authorizations.clear()
            self._in_flight = 0
            self._max_in_flight = 0
            self._total = 0
            self._epoch += 1

    # -- reading (tests) ---------------------------------------------------

    def request_count(self, key: str | None = None) -> int:
        """Requests received with ``key`` (None: in total)."""
        with self._lock:
            if key is None:
                return self._total
            stats = self._keys.get(key)
            return stats.requests if stats else 0

    def requests(self, key: str | None = None) -> list[RecordedRequest]:
        """The last (up to 1000) recorded requests for ``key``, or overall when None."""
        with self._lock:
            source = self._recent if key is None else self._keys.get(key, KeyStats()).recent
            return list(source)

    def keys(self) -> list[str]:
        """Every upstream key that sent at least one request, in first-seen order."""
        with self._lock:
            return [key for key in self._keys if key is not None]

    def in_flight(self, key: str | None = None) -> int:
        """Requests being answered now, for ``key`` or overall."""
        with self._lock:
            if key is None:
                return self._in_flight
            stats = self._keys.get(key)
            return stats.in_flight if stats else 0

    def max_in_flight(self, key: str | None = None) -> int:
        """The peak of concurrent requests, for ``key`` or overall."""
        with self._lock:
            if key is None:
                return self._max_in_flight
            stats = self._keys.get(key)
            return stats.max_in_flight if stats else 0

    def billed(self, key: str) -> tuple[int, int]:
        """``(prompt_tokens, completion_tokens)`` billed to ``key`` for successful answers."""
        with self._lock:
            stats = self._keys.get(key)
            return (stats.prompt_tokens, stats.completion_tokens) if stats else (0, 0)

    def successes(self, key: str) -> int:
        """Requests with ``key`` that were answered 200 in full."""
        with self._lock:
            stats = self._keys.get(key)
            return stats.successes if stats else 0

    def authorizations(self) -> set[str]:
        """Every ``Authorization`` header value seen."""
        with self._lock:
            return set(self._authorizations)

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able summary; keys appear only as fingerprints."""
        with self._lock:
            per_key = {
                (key_fingerprint(key) if key is not None else "(none)"): {
                    "requests": stats.requests,
                    "successes": stats.successes,
                    "in_flight": stats.in_flight,
                    "max_in_flight": stats.max_in_flight,
                    "prompt_tokens": stats.prompt_tokens,
                    "completion_tokens": stats.completion_tokens,
                    "models": sorted({r.model for r in stats.recent if r.model}),
                }
                for key, stats in self._keys.items()
            }
            return {
                "requests": self._total,
                "in_flight": self._in_flight,
                "max_in_flight": self._max_in_flight,
                "keys": per_key,
            }
