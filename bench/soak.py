"""A soak test (outside CI): a real ``teamgate serve`` under steady load with mixed faults.

Runs the Groq simulator in this process, starts ``python -m teamgate serve`` on a
generated config with a SQLite ledger, drives it with concurrent aiohttp clients for
``--duration`` seconds (streaming and not, three teams, a fraction of requests carrying
an ``x-sim-fault`` header, plus queued short 429s that teamgate retries), samples the
gateway's RSS every 10 s, stops it with SIGTERM and reconciles the books:

* every answer the clients got is in the ledger (per status; every 200 by Groq's id);
* per upstream key, the tokens of records with reported usage equal what the
  simulator billed, less the answers it billed but sent without usage
  (``stream_no_usage``; the ledger charges those a marked estimate).

Usage::

    python bench/soak.py                      # 10 minutes
    python bench/soak.py --duration 5 --json  # a smoke run; exit status 0 iff it reconciles
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml

from teamgate.auth.keys import new_client_key
from teamgate.http.serving import ServerThread
from teamgate.ledger import open_store
from teamgate.ledger.records import UsageRecord
from teamgate.simulator import Simulator, SimulatorConfig, create_simulator

SRC = str(Path(__file__).resolve().parents[1] / "src")
CHAT = "/openai/v1/chat/completions"
MODEL = "llama-3.1-8b-instant"
# team -> (environment, upstream key name, env var, secret)
TEAMS = {
    "chatbot": ("prod", "chatbot-prod", "SOAK_KEY_CHATBOT", "gsk_soak_chatbot_0001"),
    "analytics": ("prod", "analytics-prod", "SOAK_KEY_ANALYTICS", "gsk_soak_analytics_0002"),
    "research": ("batch", "research-batch", "SOAK_KEY_RESEARCH", "gsk_soak_research_0003"),
}
# Header faults and their weights. The gateway's upstream timeout is 2 s and it waits
# out a 429 only if its retry-after fits in 1 s.
FAULTS = {
    "429;retry_after=0.2": 1,  # retried until the 1 s deadline, then passed on
    "429;retry_after=60": 2,  # passed on at once
    "500": 2,
    "503;plain": 2,
    "stream_break;after=2": 2,
    "stream_no_usage": 2,
    "malformed": 1,
    "latency;s=0.3": 2,
    "latency;s=3": 1,  # beyond the timeout: 504
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gateway_config(upstream_url: str, db: Path, port: int) -> dict[str, Any]:
    """The generated teamgate config: three teams, one upstream key each, no limits."""
    teams = {
        team: {
            "allowed_models": [MODEL],
            "max_tokens_per_request": 256,
            "monthly_budget_usd": 100000,
            "environments": {env: {"upstream_keys": [{"name": name, "secret": f"env:{var}"}]}},
        }
        for team, (env, name, var, _) in TEAMS.items()
    }
    return {
        "server": {"port": port, "grace_period_s": 30},
        "upstream": {"base_url": upstream_url, "timeout_s": 2, "retry_429_deadline_s": 1},
        "storage": {"url": f"sqlite:///{db}", "flush_interval_ms": 100},
        "org": {"monthly_budget_usd": 1000000},
        "teams": teams,
    }


async def issue_keys(db: Path) -> dict[str, str]:
    """A client key per team, written to the ledger before the gateway starts."""
    store = open_store(f"sqlite:///{db}")
    await store.open()
    try:
        out = {}
        for team, (env, *_rest) in TEAMS.items():
            record, secret = new_client_key(team, env, "soak")
            await store.add_client_key(record)
            out[team] = secret
        return out
    finally:
        await store.close()


async def ledger_records(db: Path) -> list[UsageRecord]:
    store = open_store(f"sqlite:///{db}")
    await store.open()
    try:
        return await store.usage_records(0, 1e12)
    finally:
        await store.close()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass
class Tally:
    """What the clients saw."""

    by_status: Counter[int] = field(default_factory=Counter)
    by_fault: Counter[str] = field(default_factory=Counter)
    ok_ids: list[str] = field(default_factory=list)  # Groq ids of 200 answers
    no_usage_200: Counter[str] = field(default_factory=Counter)  # team -> count
    timed_out: Counter[str] = field(default_factory=Counter)  # team -> 504s
    transport_errors: int = 0
    streamed: int = 0

    @property
    def requests(self) -> int:
        return sum(self.by_status.values())


def groq_id(body: bytes, stream: bool) -> str:
    """``x_groq.id`` of a whole answer or of a stream's first chunk ("" if none)."""
    try:
        if not stream:
            return str(orjson.loads(body).get("x_groq", {}).get("id", ""))
        for line in body.split(b"\n"):
            if line.startswith(b"data: {"):
                found = orjson.loads(line[6:]).get("x_groq", {}).get("id")
                if found:
                    return str(found)
    except (orjson.JSONDecodeError, AttributeError):
        return ""
    return ""


class Load:
    """``concurrency`` workers sending chat requests until ``stop`` is set."""

    def __init__(
        self,
        url: str,
        keys: dict[str, str],
        sim: Simulator,
        *,
        fault_fraction: float,
        seed: int,
    ) -> None:
        self.url = url
        self.keys = keys
        self.sim = sim
        self.fault_fraction = fault_fraction
        self.rng = random.Random(seed)
        self.tally = Tally()
        self.stop = asyncio.Event()
        self.fault_names = list(FAULTS)
        self.fault_weights = list(FAULTS.values())

    def pick(self) -> tuple[str, bool, str | None]:
        team = self.rng.choice(list(TEAMS))
        stream = self.rng.random() < 0.5
        fault = None
        roll = self.rng.random()
        if roll < self.fault_fraction:
            fault = self.rng.choices(self.fault_names, self.fault_weights)[0]
        elif roll < self.fault_fraction + 0.02:  # a queued short 429: retried, then 200
            self.sim.push_faults(TEAMS[team][3], "429;retry_after=0")
        return team, stream, fault

    async def one(self, session: aiohttp.ClientSession) -> None:
        team, stream, fault = self.pick()
        headers = {"authorization": f"Bearer {self.keys[team]}"}
        if fault:
            headers["x-sim-fault"] = fault
        body = {
            "model": MODEL,
            "messages": [{"role": "user", "content": f"soak test from {team}"}],
            "max_tokens": 64,
            "stream": stream,
        }
        try:
            async with session.post(self.url + CHAT, json=body, headers=headers) as resp:
                try:
                    data = await resp.read()
                except aiohttp.ClientPayloadError:
                    data = b""
                status = resp.status
        except aiohttp.ClientError:
            self.tally.transport_errors += 1
            return
        tally = self.tally
        tally.by_status[status] += 1
        tally.by_fault[fault or "none"] += 1
        tally.streamed += stream
        if status == 200:
            found = groq_id(data, stream)
            if found:
                tally.ok_ids.append(found)
            if fault == "stream_no_usage" and stream:
                tally.no_usage_200[team] += 1
        elif status == 504:
            tally.timed_out[team] += 1

    async def worker(self, session: aiohttp.ClientSession) -> None:
        while not self.stop.is_set():
            await self.one(session)

    async def run(self, concurrency: int, duration_s: float) -> None:
        timeout = aiohttp.ClientTimeout(total=30)
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            workers = [asyncio.create_task(self.worker(session)) for _ in range(concurrency)]
            await asyncio.sleep(duration_s)
            self.stop.set()
            await asyncio.gather(*workers)


async def calibrate(url: str, keys: dict[str, str]) -> dict[str, tuple[int, int]]:
    """Per team, the usage of the soak's request body (the simulator is deterministic)."""
    out = {}
    async with aiohttp.ClientSession() as session:
        for team, key in keys.items():
            body = {
                "model": MODEL,
                "messages": [{"role": "user", "content": f"soak test from {team}"}],
                "max_tokens": 64,
            }
            headers = {"authorization": f"Bearer {key}"}
            async with session.post(url + CHAT, json=body, headers=headers) as resp:
                assert resp.status == 200, await resp.text()
                usage = (await resp.json())["usage"]
            out[team] = (usage["prompt_tokens"], usage["completion_tokens"])
    return out


async def sample_rss(pid: int, every_s: float, samples: list[int], stop: asyncio.Event) -> None:
    while True:
        samples.append(rss_kib(pid))
        try:
            await asyncio.wait_for(stop.wait(), every_s)
            return
        except TimeoutError:
            continue


def reconcile(
    tally: Tally,
    calibration: dict[str, tuple[int, int]],
    records: list[UsageRecord],
    sim: Simulator,
) -> list[str]:
    """The differences between the clients' answers, the ledger and the simulator's bill."""
    problems = []
    seen = Counter(r.status for r in records)
    answers = tally.by_status.copy()
    answers[200] += len(calibration)  # the calibration requests
    if seen != answers:
        problems.append(f"ledger statuses {dict(seen)} != answers {dict(answers)}")
    in_ledger = {r.groq_id for r in records if r.status == 200}
    missing = [i for i in tally.ok_ids if i not in in_ledger]
    if missing:
        problems.append(f"{len(missing)} answered 200s not in the ledger, e.g. {missing[:3]}")
    for team, (_env, name, _var, secret) in TEAMS.items():
        reported = [r for r in records if r.upstream_key == name and r.usage_source == "reported"]
        ledger = (
            sum(r.prompt_tokens for r in reported),
            sum(r.completion_tokens for r in reported),
        )
        billed = sim.state.billed(secret)
        unreported = tally.no_usage_200[team] + tally.timed_out[team]
        expected = (
            billed[0] - unreported * calibration[team][0],
            billed[1] - unreported * calibration[team][1],
        )
        if ledger != expected:
            problems.append(
                f"{name}: ledger reported tokens {ledger} != simulator billed {billed} "
                f"less {unreported} answers without usage or timed out = {expected}"
            )
    return problems


def start_gateway(folder: Path, sim_url: str, db: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``python -m teamgate serve`` on a generated config; returns the process and its URL."""
    port = free_port()
    config = folder / "teamgate.yaml"
    config.write_text(yaml.safe_dump(gateway_config(sim_url, db, port)))
    env = {**os.environ, "PYTHONPATH": SRC, **{v: s for _e, _n, v, s in TEAMS.values()}}
    env.pop("GROQ_API_KEY", None)
    with (folder / "serve.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "teamgate", "serve", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=folder,
        )
    return proc, f"http://127.0.0.1:{port}"


@dataclass
class Run:
    """One soak's live parts and what it measured."""

    args: argparse.Namespace
    sim: Simulator
    proc: subprocess.Popen[bytes]
    url: str
    keys: dict[str, str]
    samples: list[int] = field(default_factory=list)
    elapsed: float = 0.0
    exit_code: int | None = None
    calibration: dict[str, tuple[int, int]] = field(default_factory=dict)


async def drive(run: Run, load: Load) -> None:
    """Calibrate, load for ``--duration`` while sampling RSS, then SIGTERM the gateway."""
    await wait_healthy(run.url, run.proc)
    run.calibration = await calibrate(run.url, run.keys)
    stop_sampling = asyncio.Event()
    sampler = asyncio.create_task(
        sample_rss(run.proc.pid, run.args.rss_every, run.samples, stop_sampling)
    )
    started = time.monotonic()
    await load.run(run.args.concurrency, run.args.duration)
    run.elapsed = time.monotonic() - started
    stop_sampling.set()
    await sampler
    run.samples.append(rss_kib(run.proc.pid))
    run.proc.send_signal(signal.SIGTERM)
    run.exit_code = await asyncio.to_thread(run.proc.wait, 60)
    for _ in range(200):  # the simulator finishes what teamgate timed out on
        if run.sim.state.in_flight() == 0:
            break
        await asyncio.sleep(0.05)


def soak(args: argparse.Namespace) -> dict[str, Any]:
    """Run the soak; returns the summary (``reconciled``, ``problems``, figures)."""
    folder = Path(args.folder or tempfile.mkdtemp(prefix="teamgate-soak-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "ledger.db"
    # Groq's announced limits high enough that teamgate's upstream feedback never holds.
    sim = create_simulator(
        SimulatorConfig(
            latency_s=args.upstream_latency,
            fast=True,
            ratelimit_limit_requests=10**9,
            ratelimit_limit_tokens=10**9,
        )
    )
    with ServerThread(sim.app) as sim_url:
        keys = asyncio.run(issue_keys(db))
        proc, url = start_gateway(folder, sim_url, db)
        run = Run(args, sim, proc, url, keys)
        load = Load(url, keys, sim, fault_fraction=args.fault_fraction, seed=args.seed)
        try:
            asyncio.run(drive(run, load))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        records = asyncio.run(ledger_records(db))
        problems = reconcile(load.tally, run.calibration, records, sim)
    if run.exit_code != 0:
        problems.append(f"gateway exited with {run.exit_code}")
    log_path = folder / "serve.log"
    if "Traceback" in log_path.read_text(errors="replace"):
        problems.append(f"a traceback in {log_path}")
    tally = load.tally
    samples = run.samples
    return {
        "duration_s": round(run.elapsed, 1),
        "concurrency": args.concurrency,
        "requests": tally.requests,
        "requests_per_s": round(tally.requests / run.elapsed, 1),
        "streamed": tally.streamed,
        "by_status": {str(k): v for k, v in sorted(tally.by_status.items())},
        "by_fault": dict(sorted(tally.by_fault.items())),
        "transport_errors": tally.transport_errors,
        "ledger_records": len(records),
        "estimated_no_usage": sum(tally.no_usage_200.values()),
        "timed_out_but_billed": sum(tally.timed_out.values()),
        "rss_mib": {
            "first": round(samples[0] / 1024, 1),
            "last": round(samples[-1] / 1024, 1),
            "max": round(max(samples) / 1024, 1),
            "samples": [round(s / 1024, 1) for s in samples],
        },
        "gateway_exit": run.exit_code,
        "reconciled": not problems,
        "problems": problems,
        "folder": str(folder),
    }


async def wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            if proc.poll() is not None:
                raise SystemExit("teamgate serve exited; see serve.log")
            try:
                async with session.get(url + "/health") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise SystemExit("teamgate serve did not start; see serve.log")


def print_summary(result: dict[str, Any]) -> None:
    rss = result["rss_mib"]
    print(f"duration        {result['duration_s']} s, {result['concurrency']} clients")
    print(f"requests        {result['requests']} ({result['requests_per_s']}/s), ", end="")
    print(f"{result['streamed']} streamed, {result['transport_errors']} transport errors")
    print(f"by status       {result['by_status']}")
    print(f"by fault        {result['by_fault']}")
    print(f"ledger records  {result['ledger_records']}")
    print(
        f"not reconciled by tokens: {result['estimated_no_usage']} streams without usage "
        f"(charged an estimate), {result['timed_out_but_billed']} timed out (504, charged 0) "
        "that the simulator completed and billed anyway"
    )
    print(f"gateway RSS     first {rss['first']} MiB, last {rss['last']} MiB, max {rss['max']} MiB")
    print(f"gateway exit    {result['gateway_exit']}")
    print("reconciliation  " + ("OK" if result["reconciled"] else "FAILED"))
    for problem in result["problems"]:
        print("  " + problem)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent clients")
    parser.add_argument("--fault-fraction", type=float, default=0.2, help="share with a fault")
    parser.add_argument("--upstream-latency", type=float, default=0.02, help="simulator, s")
    parser.add_argument("--rss-every", type=float, default=10.0, help="RSS sample period, s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--folder", help="where the config, ledger and log go (default: temp)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    result = soak(args)
    if args.json:
        print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    else:
        print_summary(result)
    return 0 if result["reconciled"] else 1


if __name__ == "__main__":
    sys.exit(main())
