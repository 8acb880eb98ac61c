"""Memory flatness: teamgate's RSS after 100,000 requests against after 1,000,000.

Starts nginx (or the simulator) and teamgate as ``bench/run`` does, drives
teamgate at 32 connections in short wrk bursts, and samples ``VmRSS`` after
each burst. The issue's target: RSS after 1,000,000 requests within 10 % of
RSS after 100,000 (a tenth of ``--requests``).

    bench/run memory                      # 1,000,000 requests (a few minutes)
    bench/run memory --requests 200000
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from harness import CHAT, ROOT, request_body
from load import run_load
from procs import Service
from targets import start_teamgate

from upstream import start_nginx, start_simulator


def drive(teamgate: Service, total: int, connections: int, wrk: bool) -> list[tuple[int, int]]:
    """Send at least ``total`` requests; ``(requests so far, RSS kB)`` after every burst."""
    url = teamgate.url + CHAT
    body, auth = request_body(), teamgate.extra["auth"]
    samples: list[tuple[int, int]] = []
    done = 0
    while done < total:
        result = run_load(url, body, auth, connections, 2, wrk=wrk)
        if result.errors:
            raise RuntimeError(f"{result.errors} requests failed")
        done += result.requests
        samples.append((done, teamgate.rss_kb()))
        if len(samples) % 10 == 0:
            print(f"bench: {done:,} requests, RSS {samples[-1][1] / 1024:.1f} MiB", flush=True)
    return samples


def window_median(samples: list[tuple[int, int]], mark: int) -> tuple[int, int]:
    """The median RSS of the samples in the tenth of the run before ``mark`` (and just past
    it), with the request count of the sample nearest ``mark``: one sample alone moves
    by megabytes as the allocator takes and returns arenas."""
    low, high = mark - max(1, mark // 10), mark + max(1, mark // 10)
    window = [s for s in samples if low <= s[0] <= high] or [
        min(samples, key=lambda s: abs(s[0] - mark))
    ]
    nearest = min(window, key=lambda s: abs(s[0] - mark))
    return nearest[0], int(statistics.median(s[1] for s in window))


def report(samples: list[tuple[int, int]], total: int, peak_kb: int) -> tuple[str, bool]:
    early = window_median(samples, total // 10)
    final = window_median(samples, samples[-1][0])
    growth = (final[1] - early[1]) / early[1]
    ok = growth <= 0.10
    lines = [
        "| requests | RSS MiB (median of the samples within 10 % before and after) |",
        "|---|---|",
        f"| {early[0]:,} | {early[1] / 1024:.1f} |",
        f"| {final[0]:,} | {final[1] / 1024:.1f} |",
        "",
        f"Growth from {early[0]:,} to {final[0]:,} requests: {growth:+.1%} "
        f"(target <= +10%) — {'holds' if ok else 'MISSED'}; peak RSS {peak_kb / 1024:.1f} MiB; "
        f"single samples ranged {min(s[1] for s in samples) / 1024:.1f}–"
        f"{max(s[1] for s in samples) / 1024:.1f} MiB.",
    ]
    return "\n".join(lines) + "\n", ok


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/run memory", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--no-native", action="store_true", help="use neither nginx nor wrk")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "memory.md")
    args = parser.parse_args()
    native = not args.no_native
    workdir = Path(tempfile.mkdtemp(prefix="teamgate-memory-"))
    has_nginx = shutil.which("nginx") or Path("/usr/sbin/nginx").exists()
    upstream = start_nginx(workdir) if native and has_nginx else start_simulator(workdir)
    teamgate = None
    try:
        teamgate = start_teamgate(workdir, upstream.url)
        wrk = native and shutil.which("wrk") is not None
        samples = drive(teamgate, args.requests, args.connections, wrk)
        peak = teamgate.peak_rss_kb()
    finally:
        if teamgate is not None:
            teamgate.stop()
        upstream.stop()
    table, ok = report(samples, args.requests, peak)
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
