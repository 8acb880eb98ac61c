"""Load generators: wrk (with ``post.lua``), a Python fallback, and the stream TTFB timer.

:func:`run_load` drives a URL with ``connections`` keep-alive connections for
``seconds`` and returns a :class:`LoadResult`. It uses wrk when installed and
the asyncio client of :mod:`http_client` otherwise (only the smoke test should
ever need that: its numbers measure the client as much as the server).

>>> # result = run_load(url + CHAT, body, auth, connections=32, seconds=10)
>>> # result.rps, result.p50_ms, result.p99_ms, result.requests, result.errors
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from http_client import Connection, percentile

LUA = Path(__file__).resolve().parent / "post.lua"
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    driver: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unreadable wrk latency {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> LoadResult:
    """Requests, errors, duration and p50/p99 from ``wrk --latency`` output."""
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    if not done:
        raise ValueError(f"unreadable wrk output:\n{output}")
    seconds = _ms(done.group(2) + done.group(3)) / 1000
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non2xx:
        errors += int(non2xx.group(1))
    sock = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if sock:
        errors += sum(int(g) for g in sock.groups())
    return LoadResult(
        requests=int(done.group(1)),
        errors=errors,
        seconds=seconds,
        p50_ms=_ms(p50.group(1)) if p50 else float("nan"),
        p99_ms=_ms(p99.group(1)) if p99 else float("nan"),
        driver="wrk",
    )


def run_wrk(url: str, body: bytes, auth: str, connections: int, seconds: int) -> LoadResult:
    env = {**os.environ, "BENCH_BODY": body.decode(), "BENCH_AUTH": auth}
    threads = 1 if connections < 64 else 2
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s"]
    command += ["--latency", "--timeout", "10s", "-s", str(LUA), url]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return parse_wrk(done.stdout)


async def _python_load(
    url: str, body: bytes, auth: str, connections: int, seconds: float
) -> LoadResult:
    path = urlsplit(url).path
    headers = {"Content-Type": "application/json", "Authorization": auth}
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        conn = await Connection.open(url)
        try:
            while time.perf_counter() < stop_at:
                status, _, total = await conn.post(path, body, headers)
                latencies.append(total * 1000)
                if status >= 300:
                    errors += 1
        finally:
            await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return LoadResult(
        len(latencies),
        errors,
        elapsed,
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
        "python",
    )


def run_load(
    url: str, body: bytes, auth: str, connections: int, seconds: int, *, wrk: bool = True
) -> LoadResult:
    """Drive ``url`` (POST ``body``) with wrk if installed and ``wrk``, else the asyncio client."""
    if wrk and shutil.which("wrk"):
        return run_wrk(url, body, auth, connections, seconds)
    return asyncio.run(_python_load(url, body, auth, connections, seconds))


@dataclass
class StreamTiming:
    count: int
    errors: int
    ttfb_p50_ms: float
    ttfb_p99_ms: float


async def _ttfb(url: str, body: bytes, headers: dict[str, str], count: int) -> StreamTiming:
    path = urlsplit(url).path
    conn = await Connection.open(url)
    firsts: list[float] = []
    errors = 0
    try:
        for _ in range(count):
            status, first, _ = await conn.post(path, body, headers)
            if status != 200 or not first:
                errors += 1
                continue
            firsts.append(first * 1000)
    finally:
        await conn.close()
    firsts.sort()
    return StreamTiming(count, errors, percentile(firsts, 0.5), percentile(firsts, 0.99))


def time_to_first_byte(url: str, body: bytes, auth: str, count: int) -> StreamTiming:
    """Time to the first body byte of ``count`` sequential streamed requests, one connection."""
    headers = {"Content-Type": "application/json", "Authorization": auth, "x-bench-stream": "1"}
    return asyncio.run(_ttfb(url, body, headers, count))
