"""`teamgate serve --workers N`: N > 1 needs Redis; with it, the workers share the limits."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from teamgate.cli import main
from teamgate.http.serving import ServerThread
from teamgate.simulator import create_simulator
from tests.support.ports import free_port

from .cluster import SRC, UPSTREAM_ENV, Cluster, Instance, cluster_config
from .test_multi_instance import Env, spread


def test_workers_without_redis_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "teamgate.yaml"
    config.write_text(
        "teams:\n  a:\n    allowed_models: [llama-3.1-8b-instant]\n"
        "    max_tokens_per_request: 100\n"
        "    environments:\n      prod:\n        upstream_keys:\n"
        "          - {name: a-prod, secret: 'env:A_KEY'}\n"
    )
    assert main(["serve", "--config", str(config), "--workers", "2"]) == 2
    assert "needs redis.url" in capsys.readouterr().err


async def test_two_workers_share_one_rpm_limit(tmp_path: Path) -> None:
    with ServerThread(create_simulator().app) as upstream:
        env = Env(tmp_path, upstream)
        await env.setup(["w"])
        try:
            cluster = Cluster(tmp_path / "teamgate.yaml")
            data = cluster_config(
                upstream,
                f"{env.store.url}",
                env.redis_url,
                env.prefix,
                {"w": {"limits": {"rpm": 20}, "on_limit": "reject"}},
            )
            cluster.write(data)
            port = free_port()
            log = tmp_path / "workers.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "teamgate",
                        "serve",
                        "--config",
                        str(cluster.config),
                        "--port",
                        str(port),
                        "--workers",
                        "2",
                    ],
                    env={**os.environ, **UPSTREAM_ENV, "PYTHONPATH": SRC},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            cluster.instances.append(Instance(f"http://127.0.0.1:{port}", proc, log))
            try:
                deadline = time.monotonic() + 20
                while True:
                    assert proc.poll() is None, log.read_text()
                    try:
                        socket.create_connection(("127.0.0.1", port), 0.2).close()
                        break
                    except OSError:
                        assert time.monotonic() < deadline, log.read_text()
                        await asyncio.sleep(0.05)
                await asyncio.sleep(1.0)  # both workers up
                replies = await spread(cluster, env.secrets["w"], 50)
                assert sum(r.status == 200 for r in replies) == 20
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(15)
        finally:
            await env.teardown()
