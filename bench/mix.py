"""The mixed load of the memory check: non-streamed, streamed and refused requests.

A gateway's memory is only shown flat when every kind of exchange it holds is
in the mix: whole answers, SSE streams (the relay and its usage meter) and
refusals (policy errors recorded in the ledger, never forwarded). Every
connection cycles through four requests (two whole, one streamed, one refused),
so the mix holds by count whatever each kind costs: refusals are ten times
cheaper than the rest, and a mix by connection would let them swamp the run.
wrk runs it when installed (``mix.lua``), else the asyncio client of
:mod:`http_client`.

>>> # burst = run_mix(url, auth, connections=32, seconds=2)
>>> # burst.requests, burst.unexpected   # all kinds; answers of the wrong status
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from harness import request_body
from http_client import Connection
from load import parse_wrk

LUA = Path(__file__).resolve().with_name("mix.lua")
REFUSED_MODEL = "not-an-allowed-model"


@dataclass(frozen=True)
class Kind:
    """One kind of request: its body, whether nginx should stream, the status expected."""

    name: str
    body: bytes
    stream: bool
    expect_ok: bool


def kinds(pad: int = 0) -> tuple[Kind, ...]:
    """The cycle each connection repeats; ``pad`` adds bytes to every prompt."""
    extra = "x" * pad
    whole = Kind("whole", request_body(pad_to=extra), stream=False, expect_ok=True)
    return (
        whole,
        whole,
        Kind("stream", request_body(stream=True, pad_to=extra), stream=True, expect_ok=True),
        Kind("refused", request_body(REFUSED_MODEL, pad_to=extra), stream=False, expect_ok=False),
    )


@dataclass
class Burst:
    requests: int
    unexpected: int  # answers whose status class was not the one expected


def _run_wrk(url: str, auth: str, cycle: tuple[Kind, ...], connections: int, seconds: int) -> Burst:
    env = {**os.environ, "BENCH_AUTH": auth}
    env["BENCH_WHOLE"] = cycle[0].body.decode()
    env["BENCH_STREAM"] = cycle[2].body.decode()
    env["BENCH_REFUSED"] = cycle[3].body.decode()
    threads = 1 if connections < 64 else 2
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s"]
    command += ["--latency", "--timeout", "10s", "-s", str(LUA), url]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    result = parse_wrk(done.stdout)
    # wrk counts every non-2xx answer as an error: a quarter of the requests should be,
    # give or take the one cycle each connection may leave unfinished.
    refused = sum(1 for k in cycle if not k.expect_ok)
    expected = result.requests * refused // len(cycle)
    off = abs(result.errors - expected)
    return Burst(result.requests, off if off > 2 * connections else 0)


async def _python(
    url: str, auth: str, cycle: tuple[Kind, ...], connections: int, seconds: float
) -> Burst:
    path = urlsplit(url).path
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + seconds
    counts = {"requests": 0, "unexpected": 0}

    async def worker() -> None:
        conn = await Connection.open(url)
        turn = 0
        try:
            while loop.time() < stop_at:
                kind = cycle[turn % len(cycle)]
                turn += 1
                headers = {"Content-Type": "application/json", "Authorization": auth}
                if kind.stream:
                    headers["x-bench-stream"] = "1"
                status, _, _ = await conn.post(path, kind.body, headers)
                counts["requests"] += 1
                if (status < 300) != kind.expect_ok:
                    counts["unexpected"] += 1
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return Burst(counts["requests"], counts["unexpected"])


def run_mix(
    url: str, auth: str, connections: int, seconds: int, *, wrk: bool = True, pad: int = 0
) -> Burst:
    """One burst of the mix against ``url`` (the chat completions URL)."""
    cycle = kinds(pad)
    if wrk and shutil.which("wrk"):
        return _run_wrk(url, auth, cycle, connections, seconds)
    return asyncio.run(_python(url, auth, cycle, connections, seconds))
