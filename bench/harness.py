"""``bench/run``: teamgate side by side with a direct call, a bare proxy and LiteLLM.

Starts the upstream (nginx with fixed Groq-shaped answers), the bare proxy,
teamgate with everything on, and optionally LiteLLM; drives each with wrk;
prints one markdown table and saves it to ``bench/results/latest.md``
(``--docs`` also writes it into ``docs/benchmark.md``).

    bench/run                      # ~10 s per measurement
    bench/run --litellm            # add LiteLLM's proxy (installed into bench/.litellm-venv)
    bench/run --seconds 5 --streams 200
    bench/run --smoke              # seconds; for the test suite (no installs, any upstream)
"""

from __future__ import annotations

import argparse
import datetime
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

import orjson
from load import LoadResult, run_load, time_to_first_byte
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


def request_body(model: str = MODEL, *, stream: bool = False) -> bytes:
    body: dict[str, object] = {"model": model, "messages": MESSAGES}
    if stream:
        body["stream"] = True
    return orjson.dumps(body)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="each wrk run at 32 connections")
    parser.add_argument("--latency-seconds", type=int, default=10, help="the 1-connection run")
    parser.add_argument("--streams", type=int, default=500, help="streamed requests timed")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--litellm", action="store_true", help="add LiteLLM's proxy")
    parser.add_argument("--smoke", action="store_true", help="a few seconds, nothing installed")
    parser.add_argument(
        "--no-native", action="store_true", help="use neither nginx nor wrk (the fallbacks)"
    )
    parser.add_argument("--docs", action="store_true", help="also write docs/benchmark.md")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latest.md")
    args = parser.parse_args(argv)
    if args.smoke:
        args.seconds, args.latency_seconds, args.streams = 1, 1, 20
    return args


def use_wrk(args: argparse.Namespace) -> bool:
    return not args.no_native and shutil.which("wrk") is not None


def measure(service: Service, auth: str, args: argparse.Namespace, smoke: bool) -> Row:
    """One row: throughput and CPU at N connections, latency at 1, stream TTFB, peak RSS."""
    path = service.extra.get("path", CHAT)
    url = service.url + path
    body = request_body()
    stream_model = service.extra.get("stream_model", MODEL)
    if not smoke:
        run_load(
            url, body, auth, args.connections, 2, wrk=use_wrk(args)
        )  # warm up (imports, pools, caches)
    cpu_before = service.cpu_seconds()
    busy: LoadResult = run_load(url, body, auth, args.connections, args.seconds, wrk=use_wrk(args))
    cpu = service.cpu_seconds() - cpu_before
    single = run_load(url, body, auth, 1, args.latency_seconds, wrk=use_wrk(args))
    stream_url = (service.stream_url or service.url) + path
    stream = time_to_first_byte(
        stream_url, request_body(stream_model, stream=True), auth, args.streams
    )
    errors = busy.errors + single.errors + stream.errors
    return Row(
        name=service.name,
        rps=busy.rps,
        p50_ms=single.p50_ms,
        p99_ms=single.p99_ms,
        ttfb_ms=stream.ttfb_p50_ms,
        cpu_us=cpu / busy.requests * 1e6 if busy.requests else float("nan"),
        peak_rss_mib=service.peak_rss_kb() / 1024,
        errors=errors,
    )


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
        runs: list[tuple[Service, str]] = [(upstream, f"Bearer {UPSTREAM_KEY}")]
        bare = start_bare(workdir, upstream.url)
        services.append(bare)
        runs.append((bare, f"Bearer {UPSTREAM_KEY}"))
        teamgate = start_teamgate(workdir, upstream.url)
        services.append(teamgate)
        runs.append((teamgate, teamgate.extra["auth"]))
        if args.litellm:
            python = litellm_python()
            if python is None:
                notes.append("LiteLLM: its install failed on this machine; row skipped")
            else:
                litellm = start_litellm(workdir, python, upstream.url, upstream.stream_url)
                services.append(litellm)
                runs.append((litellm, litellm.extra["auth"]))
        for service, auth in runs:
            print(f"bench: measuring {service.name} ...", flush=True)
            try:
                rows.append(measure(service, auth, args, args.smoke))
            except Exception as exc:
                if service.name != "LiteLLM":
                    raise
                notes.append(f"LiteLLM: measuring failed ({type(exc).__name__}: {exc})")
            if service.proc.poll() is not None:
                raise RuntimeError(f"{service.name} exited during the run")
    finally:
        for service in reversed(services):
            service.stop()
    by_name = {r.name: r for r in rows}
    driver = "wrk" if use_wrk(args) else "python asyncio client (no wrk)"
    notes += [
        f"upstream: {upstream.extra['kind']}; "
        f"load: {driver}, {args.connections} connections for {args.seconds} s, "
        f"1 connection for {args.latency_seconds} s; TTFB: {args.streams} sequential streams",
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
    return 0


if __name__ == "__main__":
    start = time.monotonic()
    code = main()
    print(f"bench: done in {time.monotonic() - start:.0f} s", file=sys.stderr)
    sys.exit(code)
