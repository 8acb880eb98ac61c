"""Memory under sustained load: does teamgate's RSS stay flat?

Starts nginx (or the simulator) and teamgate as ``bench/run`` does, drives
teamgate with a mix of non-streamed, streamed and refused requests (see
:mod:`mix`) in short bursts, and samples ``VmRSS`` after each burst. Two
figures come out:

* **growth**: the median RSS of a window at the end of the warm-up against the
  median of a window at the end of the run (single samples move by megabytes
  as the allocator takes and returns arenas; medians do not). Target: ≤ 10 %.
* **slope**: bytes per request from a least-squares line through every sample
  after the warm-up. A leak is a slope; noise is not. ``--gate B`` makes the
  run fail when the slope exceeds B bytes per request: the suite runs a short
  version of this (tests/project/bench/test_memory_gate.py), and checks that it fails
  on a gateway with a deliberate leak (``--leak``).

    bench/run memory                              # 1,000,000 requests, SQLite
    bench/run memory --backend shared             # PostgreSQL + Redis, one instance
    bench/run memory --requests 35000 --warm-up 15000 --burst-seconds 1 --gate 150
                                                  # the suite's short check
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from harness import CHAT, ROOT
from mix import run_mix
from procs import Service
from targets import start_teamgate
from upstream import start_nginx, start_simulator

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
WARM_UP = 0.2  # the first fifth of the requests (default): pools, caches and arenas fill up


@dataclass(frozen=True)
class Verdict:
    early: tuple[int, int]  # (requests, median RSS kB) at the end of the warm-up
    final: tuple[int, int]  # the same at the end
    growth: float  # final / early - 1
    slope_b: float  # bytes per request after the warm-up (least squares)
    samples: int
    low_kb: int
    high_kb: int


def window_median(samples: list[tuple[int, int]], mark: int, span: int) -> tuple[int, int]:
    """The median RSS of the samples within ``span`` requests of ``mark``, with the
    request count of the sample nearest ``mark``."""
    window = [s for s in samples if abs(s[0] - mark) <= span] or [
        min(samples, key=lambda s: abs(s[0] - mark))
    ]
    nearest = min(window, key=lambda s: abs(s[0] - mark))
    return nearest[0], int(statistics.median(s[1] for s in window))


def judge(samples: list[tuple[int, int]], total: int, warm_up: int | None = None) -> Verdict:
    """Growth and slope of ``samples`` ((requests so far, RSS kB)) of a ``total``-request run,
    after ``warm_up`` requests (a fifth of ``total`` by default).

    >>> flat = [(n * 1000, 50_000 + (n % 3)) for n in range(1, 101)]
    >>> v = judge(flat, 100_000)
    >>> abs(v.slope_b) < 1, abs(v.growth) < 0.001
    (True, True)
    >>> leaky = [(n * 1000, 50_000 + n * 250) for n in range(1, 101)]  # 250 B per request
    >>> round(judge(leaky, 100_000).slope_b)
    256
    """
    mark = int(total * WARM_UP) if warm_up is None else warm_up
    span = max(1, (total - mark) // 20)
    early = window_median(samples, mark, span)
    final = window_median(samples, samples[-1][0], span)
    after = [s for s in samples if s[0] >= mark] or samples
    if len(after) >= 2 and len({s[0] for s in after}) >= 2:
        slope_kb, _ = statistics.linear_regression([s[0] for s in after], [s[1] for s in after])
    else:
        slope_kb = 0.0
    return Verdict(
        early=early,
        final=final,
        growth=(final[1] - early[1]) / early[1],
        slope_b=slope_kb * 1024,
        samples=len(samples),
        low_kb=min(s[1] for s in samples),
        high_kb=max(s[1] for s in samples),
    )


def _sample(teamgate: Service, stop: threading.Event, into: list[tuple[float, int]]) -> None:
    while not stop.wait(0.1):
        into.append((time.monotonic(), teamgate.rss_kb()))


def drive(
    teamgate: Service, total: int, connections: int, wrk: bool, seconds: int, pad: int
) -> list[tuple[int, int]]:
    """Send at least ``total`` requests; ``(requests so far, RSS kB)`` every 100 ms.

    RSS is sampled while each burst runs; a sample's request count is placed
    by time within its burst (the load is steady within a burst).
    """
    url = teamgate.url + CHAT
    samples: list[tuple[int, int]] = []
    done = 0
    while done < total:
        readings: list[tuple[float, int]] = []
        stop = threading.Event()

        sampler = threading.Thread(target=_sample, args=(teamgate, stop, readings), daemon=True)
        began = time.monotonic()
        sampler.start()
        try:
            burst = run_mix(url, teamgate.extra["auth"], connections, seconds, wrk=wrk, pad=pad)
        finally:
            stop.set()
            sampler.join()
        ended = time.monotonic()
        if burst.unexpected:
            raise RuntimeError(f"{burst.unexpected} answers had an unexpected status")
        for at, rss in readings:
            share = min(1.0, (at - began) / max(ended - began, 1e-9))
            samples.append((done + int(burst.requests * share), rss))
        done += burst.requests
        samples.append((done, teamgate.rss_kb()))
        if len(samples) // 10 != (len(samples) - len(readings) - 1) // 10:
            print(f"bench: {done:,} requests, RSS {samples[-1][1] / 1024:.1f} MiB", flush=True)
    return samples


def render(v: Verdict, backend: str, gate: float | None, peak_kb: int) -> tuple[str, bool]:
    ok_growth = v.growth <= 0.10
    ok_slope = gate is None or v.slope_b <= gate
    lines = [
        f"Backend: {backend}. Mix: half non-streamed, a quarter streamed, a quarter refused.",
        "",
        "| requests | RSS MiB (median of the window) |",
        "|---|---|",
        f"| {v.early[0]:,} (end of warm-up) | {v.early[1] / 1024:.1f} |",
        f"| {v.final[0]:,} (end) | {v.final[1] / 1024:.1f} |",
        "",
        f"Growth after warm-up: {v.growth:+.1%} (target <= +10%) — "
        f"{'holds' if ok_growth else 'MISSED'}. "
        f"Slope: {v.slope_b:+.1f} bytes per request"
        + (f" (gate <= {gate:g}: {'holds' if ok_slope else 'FAILED'})" if gate is not None else "")
        + f". Peak RSS {peak_kb / 1024:.1f} MiB; {v.samples} samples from "
        f"{v.low_kb / 1024:.1f} to {v.high_kb / 1024:.1f} MiB.",
    ]
    ok = ok_slope if gate is not None else ok_growth
    return "\n".join(lines) + "\n", ok


async def _schema(name: str, drop: bool) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
    try:
        verb = f'DROP SCHEMA IF EXISTS "{name}" CASCADE' if drop else f'CREATE SCHEMA "{name}"'
        await conn.execute(verb)
    finally:
        await conn.close()


async def _forget_redis(prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        async for key in client.scan_iter(match=prefix + "*", count=1000):
            await client.delete(key)
    finally:
        await client.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/run memory", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--backend", choices=("sqlite", "shared"), default="sqlite")
    parser.add_argument("--burst-seconds", type=int, default=2)
    parser.add_argument("--pad", type=int, default=0, help="bytes added to every prompt")
    parser.add_argument("--warm-up", type=int, help="requests before measuring (default N/5)")
    parser.add_argument("--gate", type=float, help="fail above this many bytes per request")
    parser.add_argument("--leak", action="store_true", help="a gateway that keeps every body")
    parser.add_argument("--samples-out", type=Path, help="write every (requests, RSS kB) as CSV")
    parser.add_argument("--no-native", action="store_true", help="use neither nginx nor wrk")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "memory.md")
    args = parser.parse_args()
    native = not args.no_native
    workdir = Path(tempfile.mkdtemp(prefix="teamgate-memory-"))
    has_nginx = shutil.which("nginx") or Path("/usr/sbin/nginx").exists()
    upstream = start_nginx(workdir) if native and has_nginx else start_simulator(workdir)
    tag = uuid.uuid4().hex[:12]
    schema, prefix = f"benchmem_{tag}", f"benchmem{tag}:"
    storage = redis = None
    if args.backend == "shared":
        asyncio.run(_schema(schema, drop=False))
        storage, redis = f"{POSTGRES_URL}?search_path={schema}", REDIS_URL
    launcher = [sys.executable, str(Path(__file__).with_name("leaky_serve.py"))]
    teamgate = None
    try:
        teamgate = start_teamgate(
            workdir,
            upstream.url,
            storage_url=storage,
            redis_url=redis,
            redis_prefix=prefix,
            launcher=launcher if args.leak else None,
        )
        wrk = native and shutil.which("wrk") is not None
        samples = drive(
            teamgate, args.requests, args.connections, wrk, args.burst_seconds, args.pad
        )
        peak = teamgate.peak_rss_kb()
    finally:
        if teamgate is not None:
            teamgate.stop()
        upstream.stop()
        if args.backend == "shared":
            asyncio.run(_schema(schema, drop=True))
            asyncio.run(_forget_redis(prefix))
    if args.samples_out:
        args.samples_out.write_text("".join(f"{n},{kb}\n" for n, kb in samples))
    backend = "PostgreSQL + Redis" if args.backend == "shared" else "SQLite + memory"
    table, ok = render(judge(samples, args.requests, args.warm_up), backend, args.gate, peak)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = "bench/run memory " + " ".join(sys.argv[1:])
    text = f"`{command.strip()}` — {stamp}\n\n{table}"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
