"""``bench/run streams``: many long SSE streams at once, through each gateway.

The upstream is nginx sending prepared Groq-shaped streams at a steady pace
(:mod:`stream_upstream`: 401 events, one every 3 ms, ``x_groq.usage`` in the
last); the client is :mod:`stream_client`. For each concurrency level (50, 200
and 1,000 streams open at once) fresh servers are started, warmed up, and
measured in interleaved rounds (direct, bare proxy, teamgate; noise on this
shared machine falls on all alike). Then 5,000 slow streams (an event a second)
are held open through each. Reported per row:

* **chunks/s**: SSE events the client received per second;
* **CPU µs/chunk**: the server's ``utime + stime`` (``/proc``) over the events;
* **gap p50/p99**: the time between consecutive events at the client, and
  **added**, minus the direct row's at the same level;
* **TTFB**: request written to first body byte (median);
* **RSS**: the server's median ``VmRSS`` while every stream was open, and per
  open stream: (that − its RSS before the row) / streams;
* **errors**: a status other than 200, a cut stream, or a wrong event count;
* **ledger**: teamgate stopped, its SQLite ledger read: one record per stream,
  each with the stream's exact usage and cost.

    bench/run streams                    # the table (about 6 minutes)
    bench/run streams --litellm          # LiteLLM's rows too (50 and 200 streams)
    bench/run streams --levels 200 --seconds 20 --rounds 4
    bench/run streams --smoke            # seconds; the suite runs it
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import shlex
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import CHAT, ROOT, request_body
from procs import Service, raise_nofile
from report import machine
from stream_client import Plan, Tally, run_streams
from stream_upstream import (
    FAST,
    FAST_PERIOD_MS,
    SLOW,
    SLOW_PERIOD_MS,
    StreamSpec,
    smoke_specs,
    start_stream_nginx,
)
from targets import litellm_python, start_bare, start_litellm, start_teamgate
from upstream import MODEL, UPSTREAM_KEY

from teamgate.config.schema import Settings
from teamgate.pricing.prices import PriceTable

MAX_CONNECTIONS = 12000  # upstream pools: never the limit here


@dataclass
class Measured:
    """One target's rounds at one level."""

    service: Service
    auth: str
    tally: Tally = field(default_factory=Tally)
    seconds: float = 0.0
    cpu_s: float = 0.0
    rss_before_kb: int = 0
    rss_full_kb: list[int] = field(default_factory=list)
    fds_full: list[int] = field(default_factory=list)
    client_cpu_s: float = 0.0
    warm_streams: int = 0
    check_events: bool = True
    model: str = MODEL
    path: str = CHAT

    @property
    def name(self) -> str:
        return self.service.name

    def chunks_per_s(self) -> float:
        return self.tally.events / self.seconds if self.seconds else 0.0

    def cpu_us(self) -> float:
        return self.cpu_s / self.tally.events * 1e6 if self.tally.events else float("nan")

    def rss_mib(self) -> float:
        return statistics.median(self.rss_full_kb) / 1024 if self.rss_full_kb else float("nan")

    def rss_per_stream_kib(self, streams: int) -> float:
        if not self.rss_full_kb:
            return float("nan")
        return (statistics.median(self.rss_full_kb) - self.rss_before_kb) / streams

    def gap_ms(self, q: float) -> float:
        return self.tally.gaps.quantile(q) * 1000

    def ttfb_ms(self) -> float:
        return statistics.median(self.tally.ttfbs) * 1000 if self.tally.ttfbs else float("nan")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run streams", description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[50, 200, 1000])
    parser.add_argument("--seconds", type=float, default=12.0, help="per target and level")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--slow", type=int, default=5000, help="slow streams held open")
    parser.add_argument("--no-slow", action="store_true", help="leave the slow row out")
    parser.add_argument("--litellm", action="store_true", help="LiteLLM at 50 and 200 streams")
    parser.add_argument("--only", nargs="+", help="measure only these targets (bare, teamgate)")
    parser.add_argument("--smoke", action="store_true", help="a few seconds, small levels")
    parser.add_argument("--docs", action="store_true", help="also write docs/benchmark.md")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "streams.md")
    args = parser.parse_args(argv)
    if args.smoke:
        args.levels, args.seconds, args.rounds, args.slow = [16], 0.6, 1, 40
    return args


def teamgate_records(ledger: Path) -> list[tuple[int, int, int, str, int, int, int, int]]:
    """(prompt, completion, cost, source, status, streamed, records, distinct ids) groups."""
    with sqlite3.connect(ledger) as db:
        return list(
            db.execute(
                "SELECT prompt_tokens, completion_tokens, cost_pusd, usage_source, status,"
                " streamed, COUNT(*), COUNT(DISTINCT request_id) FROM usage"
                " GROUP BY 1, 2, 3, 4, 5, 6"
            )
        )


def check_ledger(ledger: Path, expected: dict[StreamSpec, int]) -> str:
    """One line: does the ledger hold exactly one exact record per stream?"""
    prices = PriceTable.from_settings(Settings(teams={}))
    want = {
        (spec.usage[0], spec.usage[1], prices.cost(MODEL, *spec.usage, 0), "reported", 200, 1): n
        for spec, n in expected.items()
        if n
    }
    got: dict[tuple[int, int, int, str, int, int], int] = {}
    duplicates = 0
    for *key, count, distinct in teamgate_records(ledger):
        got[tuple(key)] = count  # type: ignore[index]
        duplicates += count - distinct
    total = sum(want.values())
    if got == want and not duplicates:
        kinds = ", ".join(f"{n:,} × {p}+{c} tokens" for (p, c, *_), n in want.items())
        return f"ledger: {total:,} streams, {total:,} records, each exact ({kinds}) — holds"
    return f"ledger: MISMATCH: expected {want}, found {got}, {duplicates} duplicate ids"


async def _sample(
    target: Measured, streams: int, stop: asyncio.Event, every_s: float = 0.25
) -> None:
    service, tally = target.service, target.tally
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
        if tally.open_now >= streams:
            target.rss_full_kb.append(service.rss_kb())
            target.fds_full.append(service.open_fds())


async def _measure(target: Measured, plan: Plan) -> None:
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample(target, plan.streams, stop))
    cpu, client = target.service.cpu_seconds(), time.process_time()
    try:
        target.seconds += await run_streams(plan, target.tally)
    finally:
        target.cpu_s += target.service.cpu_seconds() - cpu
        target.client_cpu_s += time.process_time() - client
        stop.set()
        await sampler


def _plan(target: Measured, spec: StreamSpec, streams: int, seconds: float, **kw: object) -> Plan:
    return Plan(
        url=target.service.url,
        path=target.path,
        body=request_body(target.model, stream=True),
        auth=target.auth,
        streams=streams,
        seconds=seconds,
        expected_events=spec.events if target.check_events else -1,
        **kw,  # type: ignore[arg-type]
    )


def fast_row(
    targets: list[Measured], spec: StreamSpec, streams: int, args: argparse.Namespace
) -> None:
    """Warm each target up, take its RSS, then measure in interleaved rounds."""
    stream_s = spec.slices * FAST_PERIOD_MS / 1000
    for target in targets:
        warm = Tally()
        asyncio.run(run_streams(_plan(target, spec, min(streams, 20), 0.1, ramp_s=0.1), warm))
        target.warm_streams += warm.started
        time.sleep(0.3)
        target.rss_before_kb = target.service.rss_kb()
    for number in range(args.rounds):
        for target in targets:
            print(f"bench: {streams} streams, round {number + 1}/{args.rounds}: {target.name}")
            plan = _plan(
                target,
                spec,
                streams,
                args.seconds / args.rounds,
                ramp_s=min(stream_s, streams / 1000),
            )
            asyncio.run(_measure(target, plan))
            if target.service.proc.poll() is not None:
                raise RuntimeError(f"{target.name} exited during the run")


def slow_row(target: Measured, spec: StreamSpec, streams: int, period_ms: int) -> None:
    """``streams`` slow streams, opened over a few seconds, each held to its end."""
    print(f"bench: {streams} slow streams: {target.name}")
    target.rss_before_kb = target.service.rss_kb()
    ramp = min(5.0, streams / 1000)
    plan = _plan(target, spec, streams, 0, slow=True, repeat=False, ramp_s=ramp)
    asyncio.run(_measure(target, plan))


def _num(value: float, digits: int = 0) -> str:
    return "n/a" if value != value else f"{value:,.{digits}f}"


def _ratio(value: float, base: float) -> str:
    if value != value or base != base or not base:
        return ""
    return f"{value / base:.2f}x"


def render_fast(streams: int, rows: list[Measured]) -> list[str]:
    by = {r.name: r for r in rows}
    direct, bare = by.get("direct"), by.get("bare proxy")
    out = []
    for r in rows:
        added50 = r.gap_ms(0.5) - direct.gap_ms(0.5) if direct and r is not direct else None
        added99 = r.gap_ms(0.99) - direct.gap_ms(0.99) if direct and r is not direct else None
        bare99 = bare.gap_ms(0.99) - direct.gap_ms(0.99) if bare and direct else float("nan")
        per = r.rss_per_stream_kib(streams)
        cells = [
            f"{streams:,}",
            r.name,
            _num(r.chunks_per_s()),
            _num(r.cpu_us(), 2),
            _ratio(r.cpu_us(), bare.cpu_us()) if bare else "",
            _num(r.gap_ms(0.5), 2),
            _num(r.gap_ms(0.99), 2),
            "" if added50 is None else f"{added50:+.2f}",
            "" if added99 is None else f"{added99:+.2f}",
            "" if added99 is None or r is bare else _ratio(max(added99, 0.0), max(bare99, 0.01)),
            _num(r.ttfb_ms(), 2),
            _num(r.rss_mib(), 1),
            "" if r is direct else _num(per, 1),
            "" if r is direct or not bare else _ratio(per, bare.rss_per_stream_kib(streams)),
            f"{r.tally.completed:,}",
            str(r.tally.errors),
        ]
        out.append("| " + " | ".join(cells) + " |")
    return out


FAST_HEAD = (
    "| streams | target | chunks/s | CPU µs/chunk | CPU vs bare | gap p50 ms | gap p99 ms "
    "| added p50 ms | added p99 ms | added p99 vs bare | TTFB p50 ms | RSS MiB "
    "| RSS KiB/stream | RSS/stream vs bare | streams done | errors |"
)
SLOW_HEAD = (
    "| slow streams | target | open at once | RSS MiB | RSS KiB/stream | open fds | errors |"
)


def render_slow(streams: int, rows: list[Measured]) -> list[str]:
    out = []
    for r in rows:
        peak_rss = max(r.rss_full_kb) / 1024 if r.rss_full_kb else float("nan")
        per = (max(r.rss_full_kb) - r.rss_before_kb) / streams if r.rss_full_kb else float("nan")
        cells = [
            f"{streams:,}",
            r.name,
            f"{streams:,}" if r.rss_full_kb else "never all",
            _num(peak_rss, 1),
            "" if r.name == "direct" else _num(per, 1),
            str(max(r.fds_full)) if r.fds_full else "n/a",
            str(r.tally.errors),
        ]
        out.append("| " + " | ".join(cells) + " |")
    return out


def targets_met(rows: list[Measured], streams: int) -> list[str]:
    """Issue 17's stream targets at ``streams`` (judged at 200)."""
    by = {r.name: r for r in rows}
    tg, bare, direct = by.get("teamgate"), by.get("bare proxy"), by.get("direct")
    if not (tg and bare and direct):
        return []
    out = []

    def judge(label: str, value: float, limit: float) -> None:
        verdict = "holds" if value <= limit else "MISSED"
        out.append(f"{label} at {streams} streams: {value:.2f}x (target <= {limit}x) — {verdict}")

    judge("CPU per relayed chunk vs bare proxy", tg.cpu_us() / bare.cpu_us(), 1.3)
    tg99 = max(tg.gap_ms(0.99) - direct.gap_ms(0.99), 0.0)
    bare99 = max(bare.gap_ms(0.99) - direct.gap_ms(0.99), 0.01)
    judge("added inter-chunk p99 vs bare proxy", tg99 / bare99, 1.5)
    judge(
        "RSS per open stream vs bare proxy",
        tg.rss_per_stream_kib(streams) / bare.rss_per_stream_kib(streams),
        2.0,
    )
    return out


def litellm_row(
    rowdir: Path,
    python: Path,
    upstream: Service,
    spec: StreamSpec,
    streams: int,
    args: argparse.Namespace,
) -> Measured:
    """LiteLLM alone, after the others (it re-frames the events: their count is not checked)."""
    litellm = start_litellm(rowdir, python, upstream.url, upstream.url)
    try:
        row = Measured(litellm, litellm.extra["auth"], check_events=False)
        row.path = litellm.extra["path"]
        fast_row([row], spec, streams, args)
        return row
    finally:
        litellm.stop()


def start_gateways(
    workdir: Path, upstream: Service, only: list[str] | None
) -> tuple[Service | None, Service | None]:
    bare = teamgate = None
    if not only or "bare" in only:
        bare = start_bare(workdir, upstream.url, max_connections=MAX_CONNECTIONS)
    if not only or "teamgate" in only:
        teamgate = start_teamgate(workdir, upstream.url, max_connections=MAX_CONNECTIONS)
    return bare, teamgate


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    command = "bench/run streams " + shlex.join(argv)
    raise_nofile()  # the client holds thousands of sockets
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    fast, slow = smoke_specs() if args.smoke else (FAST, SLOW)
    slow_period = 100 if args.smoke else SLOW_PERIOD_MS
    workdir = Path(tempfile.mkdtemp(prefix="teamgate-streams-"))
    upstream = start_stream_nginx(workdir, fast, slow, slow_period_ms=slow_period)
    lines = [FAST_HEAD, "|" + "---|" * (FAST_HEAD.count("|") - 1)]
    verdicts: list[str] = []
    ledger_lines: list[str] = []
    nginx_cpu, nginx_events, client_cpu = 0.0, 0, 0.0
    python = litellm_python() if args.litellm else None
    if args.litellm and python is None:
        verdicts.append("LiteLLM: its install failed on this machine; rows left out")
    try:
        for level, streams in enumerate(args.levels):
            rowdir = workdir / f"level-{level}"
            rowdir.mkdir()
            bare, teamgate = start_gateways(rowdir, upstream, args.only)
            rows = [Measured(upstream, f"Bearer {UPSTREAM_KEY}")]
            if bare is not None:
                rows.append(Measured(bare, f"Bearer {UPSTREAM_KEY}"))
            if teamgate is not None:
                rows.append(Measured(teamgate, teamgate.extra["auth"]))
            before = upstream.cpu_seconds()
            try:
                fast_row(rows, fast, streams, args)
                if python is not None and streams <= 200:
                    try:
                        rows.append(litellm_row(rowdir, python, upstream, fast, streams, args))
                    except Exception as exc:  # its row is optional; say why it is missing
                        verdicts.append(
                            f"LiteLLM at {streams}: failed ({type(exc).__name__}: {exc})"
                        )
            finally:
                for service in (teamgate, bare):
                    if service is not None:
                        service.stop()
            nginx_cpu += upstream.cpu_seconds() - before
            nginx_events += sum(r.tally.events for r in rows)
            client_cpu += sum(r.client_cpu_s for r in rows)
            lines += render_fast(streams, rows)
            if streams == 200 or (args.smoke and streams == args.levels[-1]):
                verdicts += targets_met(rows, streams)
            if teamgate is not None:
                tg = next(r for r in rows if r.name == "teamgate")
                count = tg.tally.started + tg.warm_streams
                ledger_lines.append(
                    f"{streams} streams: " + check_ledger(rowdir / "ledger.db", {fast: count})
                )
        slow_lines: list[str] = []
        if not args.no_slow:
            rowdir = workdir / "slow"
            rowdir.mkdir()
            # The gateways reach nginx's slow port: they pass no x-bench-pace on to "Groq"
            # (request headers go upstream by allow-list).
            slow_up = dataclasses.replace(upstream, url=upstream.extra["slow_url"])
            bare, teamgate = start_gateways(rowdir, slow_up, args.only)
            rows = [Measured(upstream, f"Bearer {UPSTREAM_KEY}")]
            rows += [Measured(s, f"Bearer {UPSTREAM_KEY}") for s in [bare] if s is not None]
            if teamgate is not None:
                rows.append(Measured(teamgate, teamgate.extra["auth"]))
            try:
                for row in rows:
                    slow_row(row, slow, args.slow, slow_period)
            finally:
                for service in (teamgate, bare):
                    if service is not None:
                        service.stop()
            slow_lines = [SLOW_HEAD, "|" + "---|" * (SLOW_HEAD.count("|") - 1)]
            slow_lines += render_slow(args.slow, rows)
            if teamgate is not None:
                tg = rows[-1]
                ledger_lines.append(
                    f"{args.slow} slow streams: "
                    + check_ledger(rowdir / "ledger.db", {slow: tg.tally.started})
                )
    finally:
        upstream.stop()
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    nginx_us = nginx_cpu / nginx_events * 1e6 if nginx_events else float("nan")
    client_us = client_cpu / nginx_events * 1e6 if nginx_events else float("nan")
    notes = [
        f"upstream: nginx, {fast.events} events per stream ({fast.slices} writes of "
        f"{len(fast.body) // fast.slices} bytes, one every {FAST_PERIOD_MS} ms), "
        f"x_groq.usage in the last; nginx's own CPU: {nginx_us:.2f} µs per event; "
        f"the client's: {client_us:.2f} µs per event",
        f"{args.rounds} interleaved rounds of {args.seconds / args.rounds:g} s per target "
        "and level; fresh servers per level; gaps: time between consecutive events at the "
        "client; added = minus the direct row's; RSS: median VmRSS with every stream open, "
        "per stream = (that - RSS before the level) / streams",
        f"slow streams: {slow.events} events, one every {slow_period} ms, "
        f"opened over {min(5.0, args.slow / 1000):g} s and held to their end; "
        "RSS and fds at their peak",
        f"machine: {machine()}",
    ]
    text = f"`{command}` — {stamp}\n\n" + "\n".join(lines) + "\n"
    if not args.no_slow:
        text += "\n" + "\n".join(slow_lines) + "\n"
    text += "\n" + "\n".join(f"- {n}" for n in notes + ledger_lines) + "\n"
    if verdicts:
        text += "\nTargets (issue 17):\n\n" + "\n".join(f"- {v}" for v in verdicts) + "\n"
    print()
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    if args.docs:
        write_docs(text)
    ok = all("MISMATCH" not in line for line in ledger_lines)
    return 0 if ok else 1


def write_docs(text: str) -> None:
    docs = ROOT / "docs" / "benchmark.md"
    start, end = "<!-- bench:streams:start -->", "<!-- bench:streams:end -->"
    content = docs.read_text()
    if start not in content:
        content += f"\n{start}\n{end}\n"
    before, rest = content.split(start, 1)
    _, after = rest.split(end, 1)
    docs.write_text(f"{before}{start}\n\n{text}\n{end}{after}")


if __name__ == "__main__":
    began = time.monotonic()
    code = main()
    print(f"bench: done in {time.monotonic() - began:.0f} s", file=sys.stderr)
    sys.exit(code)
