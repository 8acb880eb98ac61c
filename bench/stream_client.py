"""Many concurrent SSE streams, each event timestamped: a cheap asyncio client.

One :class:`StreamConnection` (an ``asyncio.Protocol``, no stream reader) per
concurrent stream; each sends a streamed chat request, then another when it
ends (keep-alive), until the row's time is up (``repeat=False``: one stream
each, for the held-open row). The response is parsed just enough: the status
line and headers, then the body, by ``Content-Length`` or chunked framing.
Events are counted by their blank line (``\\n\\n``); a read that completes
``k`` events records one gap since the previous event and ``k - 1`` gaps of
zero (they arrived together), into a histogram of 10 µs bins. Time to first
byte is the time from writing the request to the first body byte.

>>> gaps = Histogram()
>>> for g in (0.003, 0.003, 0.0031, 0.010):
...     gaps.add(g)
>>> round(gaps.quantile(0.5) * 1000, 2), round(gaps.quantile(0.99) * 1000, 2)
(3.0, 10.0)
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

BIN_S = 1e-5
BINS = 300_000  # up to 3 s


class Histogram:
    """Counts of durations in 10 µs bins (the last bin holds everything longer)."""

    __slots__ = ("bins", "count")

    def __init__(self) -> None:
        self.bins = [0] * BINS
        self.count = 0

    def add(self, seconds: float, times: int = 1) -> None:
        index = int(seconds / BIN_S + 0.5)
        self.bins[index if index < BINS else BINS - 1] += times
        self.count += times

    def quantile(self, fraction: float) -> float:
        """The ``fraction`` quantile in seconds (nearest rank); NaN when empty."""
        if not self.count:
            return float("nan")
        rank = max(1, round(fraction * self.count))
        seen = 0
        for index, n in enumerate(self.bins):
            seen += n
            if seen >= rank:
                return index * BIN_S
        return (BINS - 1) * BIN_S


@dataclass
class Tally:
    """What the streams of one row add up to."""

    started: int = 0
    completed: int = 0  # 200, every expected event, the body ended
    errors: int = 0
    events: int = 0
    gaps: Histogram = field(default_factory=Histogram)
    ttfbs: list[float] = field(default_factory=list)
    open_now: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1


class StreamConnection(asyncio.Protocol):
    """One keep-alive connection running one stream at a time."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[str] | None = None
        self.lost = False
        self._reset()

    def _reset(self) -> None:
        self._head = b""
        self._in_body = False
        self._status = 0
        self._left = -1  # Content-Length bytes left; -1: chunked
        self._chunk_left = 0
        self._crlf = 0
        self._line = b""
        self._ending = False
        self._sent_at = 0.0
        self._last_event = 0.0
        self._events = 0
        self._newline = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.done is not None and not self.done.done():
            self.done.set_result("connection lost")

    def request(self, data: bytes) -> asyncio.Future[str]:
        """Send one request; the future says ``""`` when its answer ended well, else why not."""
        assert self.transport is not None
        self._reset()
        self.done = asyncio.get_running_loop().create_future()
        self._sent_at = time.perf_counter()
        self.transport.write(data)
        return self.done

    def data_received(self, data: bytes) -> None:
        if not self._in_body:
            head = self._head + data
            end = head.find(b"\r\n\r\n")
            if end < 0:
                self._head = head
                return
            self._headers(head[: end + 4])
            data = head[end + 4 :]
            if not data:
                return
        if self._left >= 0:
            self._payload(data)
            self._left -= len(data)
            if self._left <= 0:
                self._finish("")
        else:
            self._chunked(data)

    def _headers(self, head: bytes) -> None:
        self._in_body = True
        self._status = int(head[9:12])
        lower = head.lower()
        at = lower.find(b"\r\ncontent-length:")
        if at >= 0:
            self._left = int(lower[at + 17 : lower.index(b"\r\n", at + 2)])
        elif b"transfer-encoding: chunked" not in lower:
            self._finish("no length")
        if self._status != 200:
            self._finish(f"status {self._status}")

    def _chunked(self, data: bytes) -> None:
        if self._line:
            data, self._line = self._line + data, b""
        pos, size = 0, len(data)
        while pos < size:
            if self._chunk_left:
                take = min(self._chunk_left, size - pos)
                self._payload(data[pos : pos + take] if take < size else data)
                self._chunk_left -= take
                pos += take
            elif self._crlf:
                skip = min(self._crlf, size - pos)
                self._crlf -= skip
                pos += skip
                if not self._crlf and self._ending:
                    self._finish("")
                    return
            else:
                end = data.find(b"\r\n", pos)
                if end < 0:
                    self._line = data[pos:]
                    return
                length = int(data[pos:end].split(b";")[0], 16)
                pos = end + 2
                self._chunk_left = length
                self._crlf = 2
                self._ending = length == 0

    def _payload(self, piece: bytes) -> None:
        now = time.perf_counter()
        tally = self.tally
        if not self._events and not self._last_event:
            tally.ttfbs.append(now - self._sent_at)
            self._last_event = now
        found = piece.count(b"\n\n")
        if self._newline and piece[:1] == b"\n":
            found += 1
        self._newline = piece[-1:] == b"\n"
        if found:
            if self._events:
                tally.gaps.add(now - self._last_event)
                if found > 1:
                    tally.gaps.add(0.0, found - 1)
            elif found > 1:
                tally.gaps.add(0.0, found - 1)
            self._events += found
            tally.events += found
            self._last_event = now

    def _finish(self, why: str) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result(why)

    @property
    def events(self) -> int:
        return self._events


@dataclass(frozen=True)
class Plan:
    """One row: ``streams`` at once for ``seconds``, opened over ``ramp_s``."""

    url: str
    path: str
    body: bytes
    auth: str
    streams: int
    seconds: float
    expected_events: int  # -1: not checked (a gateway that re-frames the events)
    slow: bool = False
    repeat: bool = True
    ramp_s: float = 1.0
    timeout_s: float = 120.0


def request_bytes(plan: Plan) -> bytes:
    parts = urlsplit(plan.url)
    lines = [
        f"POST {plan.path} HTTP/1.1",
        f"Host: {parts.hostname}:{parts.port}",
        f"Authorization: {plan.auth}",
        "Content-Type: application/json",
        "Accept: text/event-stream",
        f"Content-Length: {len(plan.body)}",
    ]
    if plan.slow:
        lines.append("x-bench-pace: slow")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + plan.body


async def _one_connection(plan: Plan, tally: Tally, delay: float, stop_at: float) -> None:
    await asyncio.sleep(delay)
    parts = urlsplit(plan.url)
    loop = asyncio.get_running_loop()
    data = request_bytes(plan)
    try:
        transport, conn = await loop.create_connection(
            lambda: StreamConnection(tally), parts.hostname, parts.port
        )
    except OSError as exc:
        tally.error(f"connect: {type(exc).__name__}")
        return
    try:
        while True:
            tally.started += 1
            tally.open_now += 1
            try:
                why = await asyncio.wait_for(conn.request(data), plan.timeout_s)
            except TimeoutError:
                why = "timeout"
            finally:
                tally.open_now -= 1
            if not why and plan.expected_events >= 0 and conn.events != plan.expected_events:
                why = f"{conn.events} events, expected {plan.expected_events}"
            if why:
                tally.error(why)
                return
            tally.completed += 1
            if not plan.repeat or time.perf_counter() >= stop_at or conn.lost:
                return
    finally:
        transport.close()


async def run_streams(plan: Plan, tally: Tally) -> float:
    """Run the row; returns the wall-clock seconds it took (streams in flight are finished)."""
    started = time.perf_counter()
    stop_at = started + plan.seconds
    step = plan.ramp_s / plan.streams
    await asyncio.gather(
        *(_one_connection(plan, tally, i * step, stop_at) for i in range(plan.streams))
    )
    return time.perf_counter() - started
