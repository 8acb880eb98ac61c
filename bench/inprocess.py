"""teamgate's CPU per request without the HTTP server: the ASGI app called directly.

For A/B comparisons of hot-path changes, steadier than wrk on a shared machine:
nginx answers upstream (as in ``bench/run``), the bench config is used, 16 tasks
send requests concurrently, and the process CPU time (the SQLite writer thread
included) is divided by the requests answered.

    PYTHONPATH=src .venv/bin/python bench/inprocess.py [--requests 6000] [--reps 5]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import request_body
from targets import teamgate_config
from upstream import UPSTREAM_KEY, start_nginx

from teamgate.app import create_app
from teamgate.config.loader import load_settings

CONCURRENCY = 16


async def measure(conf: Path, secret: str, requests: int, reps: int) -> list[float]:
    env = {**os.environ, "BENCH_GROQ_KEY": UPSTREAM_KEY}
    app = create_app(load_settings(conf, env), env=env, config_path=conf)
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    lifespan = asyncio.create_task(app({"type": "lifespan"}, inbox.get, outbox.put))
    started = await outbox.get()
    assert started["type"] == "lifespan.startup.complete", started
    body = request_body()
    headers = [
        (b"host", b"bench"),
        (b"authorization", f"Bearer {secret}".encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    statuses: list[int] = []

    async def one() -> None:
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/openai/v1/chat/completions",
            "headers": headers,
            "client": ("127.0.0.1", 5555),
            "query_string": b"",
        }
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client never leaves
            raise AssertionError

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app(scope, receive, send)

    async def worker(n: int) -> None:
        for _ in range(n):
            await one()

    gc.freeze()  # as `teamgate serve` does
    await asyncio.gather(*(worker(100) for _ in range(CONCURRENCY)))  # warm up
    results = []
    for _ in range(reps):
        statuses.clear()
        cpu = time.process_time()
        await asyncio.gather(*(worker(requests // CONCURRENCY) for _ in range(CONCURRENCY)))
        await app.gateway.ledger.flush()
        results.append((time.process_time() - cpu) / len(statuses) * 1e6)
        assert set(statuses) == {200}, set(statuses)
    await inbox.put({"type": "lifespan.shutdown"})
    await lifespan
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        nginx = start_nginx(workdir)
        try:
            conf = workdir / "teamgate.yaml"
            conf.write_text(teamgate_config(workdir, nginx.url, 1))
            env = {**os.environ, "BENCH_GROQ_KEY": UPSTREAM_KEY}
            create = [sys.executable, "-m", "teamgate", "keys", "create", "--config", str(conf)]
            created = subprocess.run(
                [*create, "--team", "bench", "--env", "prod", "--purpose", "bench", "--json"],
                env=env,
                check=True,
                capture_output=True,
            )
            secret = json.loads(created.stdout)["key"]
            import uvloop

            uvloop.install()
            results = asyncio.run(measure(conf, secret, args.requests, args.reps))
        finally:
            nginx.stop()
    runs = " ".join(f"{r:.1f}" for r in results)
    print(f"CPU us/request: {runs}; median {statistics.median(results):.1f}")


if __name__ == "__main__":
    main()
