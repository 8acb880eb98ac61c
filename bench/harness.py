"""``bench/run``: teamgate side by side with a direct call, a bare proxy and LiteLLM.

Starts the upstream (nginx with fixed Groq-shaped answers), the bare proxy,
teamgate with everything on, and optionally LiteLLM; drives each with wrk;
prints one markdown table and saves it to ``bench/results/latest.md``
(``--docs`` also writes it into ``docs/benchmark.md``).

    bench/run                      # ~10 s per measurement
    bench/run --litellm            # add LiteLLM's proxy (installed into bench/.litellm-venv)
    bench/run --seconds 5 --streams 200
    bench/run --smoke              # seconds; for the test suite (no installs, any upstream;
                                   # with nginx, also ``bench/run streams --smoke``)
"""

from __future__ import annotations

import argparse
import datetime
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from load import run_load, time_to_first_byte
from procs import Service
from report import Row, machine, render, targets
from targets import litellm_python, start_bare, start_litellm, start_teamgate
from upstream import MODEL, UPSTREAM_KEY, start_nginx, start_simulator

ROOT = Path(__file__).resolve().parent.parent
CHAT = "/openai/v1/chat/completions"
MESSAGES = [
    {"role": "system", "content": "You are a terse assistant."},
    {"role": "user", "content": "Say hello to the benchmark in one short sentence."},
]


def request_body(model: str = MODEL, *, stream: bool = False, pad_to: str = "") -> bytes:
    """The benchmark's chat request; ``pad_to`` is appended to the user's message."""
    messages = MESSAGES
    if pad_to:
        messages = [MESSAGES[0], {**MESSAGES[1], "content": MESSAGES[1]["content"] + pad_to}]
    body: dict[str, object] = {"model": model, "messages": messages}
    if stream:
        body["stream"] = True
    return orjson.dumps(body)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="each wrk run at 32 connections")
    parser.add_argument("--latency-seconds", type=int, default=10, help="the 1-connection run")
    parser.add_argument("--streams", type=int, default=500, help="streamed requests timed")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--rounds", type=int, default=5, help="interleaved rounds the durations are split into"
    )
    parser.add_argument("--litellm", action="store_true", help="add LiteLLM's proxy")
    parser.add_argument("--smoke", action="store_true", help="a few seconds, nothing installed")
    parser.add_argument(
        "--no-native", action="store_true", help="use neither nginx nor wrk (the fallbacks)"
    )
    parser.add_argument("--docs", action="store_true", help="also write docs/benchmark.md")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latest.md")
    args = parser.parse_args(argv)
    if args.smoke:
        args.seconds, args.latency_seconds, args.streams, args.rounds = 1, 1, 20, 1
    return args


def use_wrk(args: argparse.Namespace) -> bool:
    return not args.no_native and shutil.which("wrk") is not None


@dataclass
class Tally:
    """What the rounds of one target add up to."""

    service: Service
    auth: str
    requests: int = 0
    seconds: float = 0.0
    cpu_s: float = 0.0
    errors: int = 0
    p50s: list[float] = field(default_factory=list)
    p99s: list[float] = field(default_factory=list)
    ttfbs: list[float] = field(default_factory=list)

    def row(self) -> Row:
        return Row(
            name=self.service.name,
            rps=self.requests / self.seconds if self.seconds else 0.0,
            p50_ms=statistics.median(self.p50s),
            p99_ms=statistics.median(self.p99s),
            ttfb_ms=statistics.median(self.ttfbs),
            cpu_us=self.cpu_s / self.requests * 1e6 if self.requests else float("nan"),
            peak_rss_mib=self.service.peak_rss_kb() / 1024,
            errors=self.errors,
        )


def warm_up(tally: Tally, args: argparse.Namespace) -> None:
    """Imports, pools, caches: a short burst that is not counted."""
    service = tally.service
    url = service.url + service.extra.get("path", CHAT)
    run_load(url, request_body(), tally.auth, args.connections, 2, wrk=use_wrk(args))


def measure_round(tally: Tally, args: argparse.Namespace, rounds: int) -> None:
    """One round: throughput and CPU at N connections, latency at 1, stream TTFB."""
    service, auth = tally.service, tally.auth
    path = service.extra.get("path", CHAT)
    url = service.url + path
    body = request_body()
    wrk = use_wrk(args)
    cpu_before = service.cpu_seconds()
    busy = run_load(url, body, auth, args.connections, max(1, args.seconds // rounds), wrk=wrk)
    tally.cpu_s += service.cpu_seconds() - cpu_before
    tally.requests += busy.requests
    tally.seconds += busy.seconds
    single = run_load(url, body, auth, 1, max(1, args.latency_seconds // rounds), wrk=wrk)
    tally.p50s.append(single.p50_ms)
    tally.p99s.append(single.p99_ms)
    stream_url = (service.stream_url or service.url) + path
    stream_body = request_body(service.extra.get("stream_model", MODEL), stream=True)
    stream = time_to_first_byte(stream_url, stream_body, auth, max(1, args.streams // rounds))
    tally.ttfbs.append(stream.ttfb_p50_ms)
    tally.errors += busy.errors + single.errors + stream.errors
    if service.proc.poll() is not None:
        raise RuntimeError(f"{service.name} exited during the run")


def measure(tallies: list[Tally], args: argparse.Namespace, rounds: int) -> list[Row]:
    """Warm each target up, then measure them in interleaved rounds (noise hits all alike)."""
    if not args.smoke:
        for tally in tallies:
            warm_up(tally, args)
    for number in range(rounds):
        for tally in tallies:
            print(f"bench: round {number + 1}/{rounds}: {tally.service.name}", flush=True)
            measure_round(tally, args, rounds)
    return [t.row() for t in tallies]


def start_upstream(workdir: Path, smoke: bool, native: bool) -> Service:
    if native and (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        return start_nginx(workdir)
    if not smoke:
        print("bench: nginx is not installed; the simulator (fast mode) stands in", flush=True)
    return start_simulator(workdir)


def write_docs(table: str, command: str) -> None:
    """Put the table between the markers of docs/benchmark.md."""
    docs = ROOT / "docs" / "benchmark.md"
    start, end = "<!-- bench:table:start -->", "<!-- bench:table:end -->"
    text = docs.read_text() if docs.exists() else f"# Benchmark\n\n{start}\n{end}\n"
    if start not in text:
        text += f"\n{start}\n{end}\n"
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    docs.write_text(f"{before}{start}\n\n{table}\n{end}{after}")
    print(f"bench: table written into {docs} ({command})")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    command = "bench/run " + shlex.join(sys.argv[1:] if argv is None else argv)
    workdir = Path(tempfile.mkdtemp(prefix="teamgate-bench-"))
    services: list[Service] = []
    rows: list[Row] = []
    notes: list[str] = []
    try:
        upstream = start_upstream(workdir, args.smoke, not args.no_native)
        services.append(upstream)
        upstream.name = "direct"
        tallies = [Tally(upstream, f"Bearer {UPSTREAM_KEY}")]
        bare = start_bare(workdir, upstream.url)
        services.append(bare)
        tallies.append(Tally(bare, f"Bearer {UPSTREAM_KEY}"))
        teamgate = start_teamgate(workdir, upstream.url)
        services.append(teamgate)
        tallies.append(Tally(teamgate, teamgate.extra["auth"]))
        rows += measure(tallies, args, args.rounds)
        if args.litellm:
            # Alone, after the others: its idle background work must not tax their rows.
            python = litellm_python()
            if python is None:
                notes.append("LiteLLM: its install failed on this machine; row skipped")
            else:
                litellm = start_litellm(workdir, python, upstream.url, upstream.stream_url)
                services.append(litellm)
                try:
                    rows += measure([Tally(litellm, litellm.extra["auth"])], args, 1)
                except Exception as exc:
                    notes.append(f"LiteLLM: measuring failed ({type(exc).__name__}: {exc})")
                litellm.stop()
    finally:
        for service in reversed(services):
            service.stop()
    by_name = {r.name: r for r in rows}
    driver = "wrk" if use_wrk(args) else "python asyncio client (no wrk)"
    notes += [
        f"upstream: {upstream.extra['kind']}; "
        f"load: {driver}, {args.connections} connections for {args.seconds} s, "
        f"1 connection for {args.latency_seconds} s; TTFB: {args.streams} sequential streams; "
        f"in {args.rounds} interleaved rounds (latencies: median of the rounds' percentiles); "
        "LiteLLM measured alone afterwards",
        "ratios against the bare proxy of the same run; added = minus the direct call",
        f"machine: {machine()}",
    ]
    table = render(rows, direct=by_name.get("direct"), bare=by_name.get("bare proxy"), notes=notes)
    verdicts = targets(by_name)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = f"`{command}` — {stamp}\n\n{table}"
    if verdicts:
        text += "\nTargets (issue 8):\n\n" + "\n".join(f"- {v}" for v in verdicts) + "\n"
    print()
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    if args.docs:
        write_docs(text, command)
    shutil.rmtree(workdir, ignore_errors=True)
    if args.smoke and not args.no_native and upstream.extra["kind"].startswith("nginx"):
        import streams  # the streaming rows need nginx's pacing; imported here (it imports us)

        return streams.main(["--smoke", "--out", str(args.out.with_name("streams-smoke.md"))])
    return 0


if __name__ == "__main__":
    start = time.monotonic()
    code = main()
    print(f"bench: done in {time.monotonic() - start:.0f} s", file=sys.stderr)
    sys.exit(code)
