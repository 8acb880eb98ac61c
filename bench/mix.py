"""The mixed load of the memory check: non-streamed, streamed and refused requests at once.

A gateway's memory is only shown flat when every kind of exchange it holds
is in the mix: whole answers, SSE streams (the relay and its usage meter)
and refusals (policy errors recorded in the ledger, never forwarded). One
burst runs three drivers side by side for the same number of seconds, each
on its own connections: wrk when installed (``post.lua``), else the asyncio
client of :mod:`http_client`.

>>> # burst = run_mix(url, auth, connections=32, seconds=2)
>>> # burst.requests, burst.unexpected   # all kinds; answers of the wrong status
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from dataclasses import dataclass
from urllib.parse import urlsplit

from harness import request_body
from http_client import Connection
from load import LUA, parse_wrk

REFUSED_MODEL = "not-an-allowed-model"


@dataclass(frozen=True)
class Driver:
    """One kind of request: its body, whether nginx should stream, the status expected."""

    name: str
    body: bytes
    stream: bool
    expect_ok: bool
    share: int  # of the burst's connections, in quarters


def drivers(pad: int = 0) -> tuple[Driver, ...]:
    """Half whole answers, a quarter streams, a quarter refusals.

    ``pad`` adds that many bytes to each prompt (a bigger body per request).
    """
    extra = "x" * pad
    return (
        Driver("whole", request_body(pad_to=extra), stream=False, expect_ok=True, share=2),
        Driver(
            "stream", request_body(stream=True, pad_to=extra), stream=True, expect_ok=True, share=1
        ),
        Driver(
            "refused",
            request_body(REFUSED_MODEL, pad_to=extra),
            stream=False,
            expect_ok=False,
            share=1,
        ),
    )


@dataclass
class Burst:
    requests: int
    unexpected: int  # answers whose status class was not the one expected


def _split(connections: int, kinds: tuple[Driver, ...]) -> list[int]:
    return [max(1, connections * d.share // 4) for d in kinds]


def _wrk(url: str, auth: str, d: Driver, connections: int, seconds: int) -> subprocess.Popen[str]:
    env = {**os.environ, "BENCH_BODY": d.body.decode(), "BENCH_AUTH": auth}
    if d.stream:
        env["BENCH_STREAM"] = "1"
    command = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s"]
    command += ["--latency", "--timeout", "10s", "-s", str(LUA), url]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)


def _run_wrk(
    url: str, auth: str, kinds: tuple[Driver, ...], connections: int, seconds: int
) -> Burst:
    procs = [
        (d, _wrk(url, auth, d, c, seconds))
        for d, c in zip(kinds, _split(connections, kinds), strict=True)
    ]
    total = unexpected = 0
    for d, proc in procs:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"wrk ({d.name}) exited with {proc.returncode}")
        result = parse_wrk(out)
        total += result.requests
        # wrk counts non-2xx answers as errors: all of them for the refused kind.
        unexpected += result.errors if d.expect_ok else result.requests - result.errors
    return Burst(total, unexpected)


async def _python(
    url: str, auth: str, kinds: tuple[Driver, ...], connections: int, seconds: float
) -> Burst:
    path = urlsplit(url).path
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + seconds
    counts = {"requests": 0, "unexpected": 0}

    async def worker(d: Driver) -> None:
        headers = {"Content-Type": "application/json", "Authorization": auth}
        if d.stream:
            headers["x-bench-stream"] = "1"
        conn = await Connection.open(url)
        try:
            while loop.time() < stop_at:
                status, _, _ = await conn.post(path, d.body, headers)
                counts["requests"] += 1
                if (status < 300) != d.expect_ok:
                    counts["unexpected"] += 1
        finally:
            await conn.close()

    tasks = [
        worker(d) for d, c in zip(kinds, _split(connections, kinds), strict=True) for _ in range(c)
    ]
    await asyncio.gather(*tasks)
    return Burst(counts["requests"], counts["unexpected"])


def run_mix(
    url: str, auth: str, connections: int, seconds: int, *, wrk: bool = True, pad: int = 0
) -> Burst:
    """One burst of every kind at once against ``url`` (the chat completions URL)."""
    kinds = drivers(pad)
    if wrk and shutil.which("wrk"):
        return _run_wrk(url, auth, kinds, connections, seconds)
    return asyncio.run(_python(url, auth, kinds, connections, seconds))
