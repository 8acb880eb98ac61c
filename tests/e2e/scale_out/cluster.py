"""Several `teamgate serve` processes sharing PostgreSQL and Redis, for the scale-out tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from tests.support.ports import free_port

SRC = str(Path(__file__).resolve().parents[3] / "src")
UPSTREAM_ENV = {"GROQ_KEY_A": "gsk_scaleout_test_0001"}


def cluster_config(
    upstream_url: str,
    storage_url: str,
    redis_url: str,
    prefix: str,
    teams: dict[str, Any],
    **redis: Any,
) -> dict[str, Any]:
    team_configs = {}
    for name, extra in teams.items():
        team_configs[name] = {
            "allowed_models": ["llama-3.1-8b-instant"],
            "max_tokens_per_request": 100,
            "environments": {
                "prod": {"upstream_keys": [{"name": f"{name}-up", "secret": "env:GROQ_KEY_A"}]}
            },
            **extra,
        }
    return {
        "upstream": {"base_url": upstream_url},
        "storage": {"url": storage_url, "flush_interval_ms": 20},
        "redis": {"url": redis_url, "key_prefix": prefix, "instances": 3, **redis},
        "teams": team_configs,
    }


@dataclass
class Instance:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


@dataclass
class Cluster:
    """N gateway processes started from one config file."""

    config: Path
    instances: list[Instance] = field(default_factory=list)

    def start(self, n: int, tmp: Path) -> None:
        env = {**os.environ, **UPSTREAM_ENV, "PYTHONPATH": SRC}
        for i in range(n):
            port = free_port()
            log = tmp / f"gateway-{i}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "teamgate",
                        "serve",
                        "--config",
                        str(self.config),
                        "--port",
                        str(port),
                    ],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            self.instances.append(Instance(f"http://127.0.0.1:{port}", process, log))
        deadline = time.monotonic() + 30
        for inst in self.instances:
            while True:
                assert inst.alive, inst.log.read_text()
                try:
                    with socket.create_connection(
                        ("127.0.0.1", int(inst.url.rsplit(":", 1)[1])), 0.2
                    ):
                        break
                except OSError:
                    assert time.monotonic() < deadline, inst.log.read_text()
                    time.sleep(0.05)

    def kill(self, i: int) -> None:
        self.instances[i].process.send_signal(signal.SIGKILL)
        self.instances[i].process.wait()

    def stop(self) -> None:
        for inst in self.instances:
            if inst.alive:
                inst.process.send_signal(signal.SIGTERM)
        for inst in self.instances:
            try:
                inst.process.wait(10)
            except subprocess.TimeoutExpired:
                inst.process.kill()
                inst.process.wait()

    def write(self, data: dict[str, Any]) -> None:
        self.config.write_text(yaml.safe_dump(data))


@dataclass
class Reply:
    instance: int
    status: int
    code: str
    groq_id: str


async def chat(
    session: aiohttp.ClientSession, cluster: Cluster, i: int, secret: str, max_tokens: int = 20
) -> Reply:
    """One chat completion through instance ``i`` (round robin over the live ones)."""
    live = [k for k, inst in enumerate(cluster.instances) if inst.alive]
    k = live[i % len(live)] if live else 0
    body = {
        "model": "llama-3.1-8b-instant",
        "messages": [{"role": "user", "content": "hello"}],
        "max_completion_tokens": max_tokens,
    }
    try:
        async with session.post(
            cluster.instances[k].url + "/openai/v1/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {secret}"},
        ) as resp:
            data = await resp.json(content_type=None)
            code = "" if resp.status == 200 else str(data.get("error", {}).get("code", ""))
            groq_id = data.get("x_groq", {}).get("id", "") if resp.status == 200 else ""
            return Reply(k, resp.status, code, groq_id)
    except (TimeoutError, aiohttp.ClientError):
        return Reply(k, 0, "connection", "")
