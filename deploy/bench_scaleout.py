"""Requests/second of 1, 2, 3 gateway instances on PostgreSQL + Redis vs 1 on SQLite.

    PYTHONPATH=src python deploy/bench_scaleout.py [seconds] [instances ...]

``instances`` are the PostgreSQL + Redis rows to run (default ``1 2 3``); ``5 1``
runs the SQLite row and one instance on PostgreSQL + Redis only (an A/B pair).

Starts the simulator (``--fast``), the gateways and one ``wrk -t1 -c32`` per
instance (all at once, summed), then prints a Markdown table. Needs wrk,
PostgreSQL at 127.0.0.1:5432 (db ``test``) and Redis at 127.0.0.1:6379.
Every request is a non-streamed chat completion by one team key.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import yaml

from teamgate.auth.keys import new_client_key
from teamgate.ledger import open_store
from teamgate.ledger.postgres.store import PostgresStore
from teamgate.http.serving import ServerThread
from teamgate.simulator import create_simulator
from teamgate.simulator.config import SimulatorConfig

PG = "postgresql://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"
STATS = {"requests": 0}
SECONDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
INSTANCES = [int(n) for n in sys.argv[2:]] or [1, 2, 3]
BODY = json.dumps(
    {
        "model": "llama-3.1-8b-instant",
        "messages": [{"role": "user", "content": "hi"}],
        "max_completion_tokens": 16,
    }
)
LUA = (
    """wrk.method = "POST"
wrk.body = '"""
    + BODY
    + """'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
"""
)


def port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(p: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", p), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {p} never opened")


async def make_store(url: str) -> str:
    store = open_store(url)
    if isinstance(store, PostgresStore):
        await store.migrate()
    await store.open()
    record, secret = new_client_key("bench", "prod", "wrk")
    await store.add_client_key(record)
    await store.close()
    return secret


def run(n: int, storage: str, redis: str | None, sim_url: str, tmp: Path) -> float:
    secret = asyncio.run(make_store(storage))
    config = {
        "upstream": {"base_url": sim_url},
        "storage": {"url": storage},
        "teams": {
            "bench": {
                "allowed_models": ["llama-3.1-8b-instant"],
                "max_tokens_per_request": 64,
                "monthly_budget_usd": 1000000,
                "limits": {"rpm": 10_000_000},
                "environments": {"prod": {"upstream_keys": [{"name": "b", "secret": "env:K"}]}},
            }
        },
    }
    prefix = f"bench{uuid.uuid4().hex[:8]}:"
    if redis:
        config["redis"] = {
            "url": redis,
            "key_prefix": prefix,
            "instances": n,
        }
    cfg = tmp / f"bench-{uuid.uuid4().hex[:6]}.yaml"
    cfg.write_text(yaml.safe_dump(config))
    lua = tmp / "post.lua"
    lua.write_text(LUA % secret)
    env = {**os.environ, "K": "gsk_bench"}
    procs, ports = [], []
    for _ in range(n):
        p = port()
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "teamgate", "serve", "--config", str(cfg), "--port", str(p)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        ports.append(p)
    try:
        for p in ports:
            wait_port(p)
        time.sleep(1)
        wrks = [
            subprocess.Popen(
                [
                    "wrk",
                    "-t1",
                    "-c32",
                    f"-d{SECONDS}s",
                    "-s",
                    str(lua),
                    f"http://127.0.0.1:{p}/openai/v1/chat/completions",
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            for p in ports
        ]
        total = 0.0
        for w in wrks:
            out = w.communicate()[0]
            total += float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])
            STATS["requests"] += int(re.search(r"(\d+) requests in", out)[1])
            if "Non-2xx" in out:
                print(out, file=sys.stderr)
        return total
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(20)
        if redis:
            asyncio.run(delete_keys(prefix))


async def pg_schema(name: str, drop: bool = False) -> None:
    conn = await asyncpg.connect(PG)
    await conn.execute(
        f'DROP SCHEMA IF EXISTS "{name}" CASCADE' if drop else f'CREATE SCHEMA "{name}"'
    )
    await conn.close()


async def delete_keys(prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS)
    async for key in client.scan_iter(match=prefix + "*", count=1000):
        await client.delete(key)
    await client.aclose()


async def counts() -> tuple[int, int, int]:
    """Redis commands processed, PostgreSQL commits and rows inserted in db `test` so far."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS)
    info = await client.info("stats")
    await client.aclose()
    conn = await asyncpg.connect(PG)
    row = await conn.fetchrow(
        "SELECT xact_commit, tup_inserted FROM pg_stat_database WHERE datname = 'test'"
    )
    await conn.close()
    await asyncio.sleep(0.6)  # pg_stat is flushed about every 500 ms
    return int(info["total_commands_processed"]), int(row[0]), int(row[1])


def main() -> None:
    # In-process simulator thread (`teamgate simulator` fails to start on this branch).
    sim = ServerThread(
        create_simulator(
            SimulatorConfig(
                fast=True, ratelimit_limit_requests=10**9, ratelimit_limit_tokens=10**12
            )
        ).app
    )
    sim_url = sim.start()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        try:
            rows.append(
                ("1 instance, SQLite", run(1, f"sqlite:///{tmp}/bench.db", None, sim_url, tmp))
            )
            for n in INSTANCES:
                schema = f"bench_{uuid.uuid4().hex[:8]}"
                asyncio.run(pg_schema(schema))
                try:
                    before = asyncio.run(counts())
                    STATS["requests"] = 0
                    rows.append(
                        (
                            f"{n} instance(s), PostgreSQL + Redis",
                            run(n, f"{PG}?search_path={schema}", REDIS, sim_url, tmp),
                        )
                    )
                    after = asyncio.run(counts())
                    per = [
                        (a - b_) / max(1, STATS["requests"])
                        for a, b_ in zip(after, before, strict=True)
                    ]
                    print(
                        f"n={n}: {STATS['requests']} requests; per request: "
                        f"{per[0]:.2f} Redis commands, {per[1]:.3f} PostgreSQL commits, "
                        f"{per[2]:.3f} rows inserted",
                        file=sys.stderr,
                    )
                finally:
                    asyncio.run(pg_schema(schema, drop=True))
        finally:
            sim.stop()
    print("| setup | requests/s |\n|---|---|")
    for name, rps in rows:
        print(f"| {name} | {rps:,.0f} |")


if __name__ == "__main__":
    main()
