"""`teamgate serve` as a real process: SIGHUP reloads budgets without dropping a request."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from teamgate.http.serving import ServerThread
from teamgate.simulator import create_simulator
from tests.conftest import BASE_CONFIG, UPSTREAM_SECRETS, merge
from tests.support.ports import free_port

SRC = str(Path(__file__).resolve().parents[3] / "src")


def write_config(path: Path, upstream: str, db: Path, port: int, budget: str) -> None:
    data = merge(
        BASE_CONFIG,
        {
            "server": {"port": port},
            "upstream": {"base_url": upstream},
            "storage": {"url": f"sqlite:///{db}"},
            "teams": {"analytics": {"monthly_budget_usd": budget}},
        },
    )
    path.write_text(yaml.safe_dump(data))


def cli(*args: str, env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "teamgate", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def test_sighup_raises_budget_without_restart(tmp_path: Path) -> None:
    sim = create_simulator()
    with ServerThread(sim.app) as upstream:
        port = free_port()
        config = tmp_path / "teamgate.yaml"
        write_config(config, upstream, tmp_path / "ledger.db", port, "0.000001")
        env = {
            **os.environ,
            **UPSTREAM_SECRETS,
            "PYTHONPATH": SRC,
            "TEAMGATE_ADMIN_KEY": "adm_reload_3Vq8Zt1Lk6Wm9Xc2Hn5Bd7Fj",
        }
        key = cli(
            "keys",
            "create",
            "--config",
            str(config),
            "--team",
            "analytics",
            "--env",
            "prod",
            "--purpose",
            "web",
            "--json",
            env=env,
        )
        secret = yaml.safe_load(key)["key"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "teamgate", "serve", "--config", str(config)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 15
            while True:
                try:
                    httpx.get(base + "/health", timeout=1)
                    break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline, "gateway did not start"
                    time.sleep(0.1)
            body = {
                "model": "llama-3.1-8b-instant",
                "messages": [{"role": "user", "content": "hi"}],
            }
            headers = {"authorization": f"Bearer {secret}"}
            url = base + "/openai/v1/chat/completions"
            refused = httpx.post(url, json=body, headers=headers, timeout=10)
            assert refused.status_code == 429
            assert refused.json()["error"]["code"] == "budget_exceeded"

            write_config(config, upstream, tmp_path / "ledger.db", port, "100")
            proc.send_signal(signal.SIGHUP)
            statuses = []
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                resp = httpx.post(url, json=body, headers=headers, timeout=10)
                statuses.append(resp.status_code)
                if resp.status_code == 200:
                    break
                assert resp.json()["error"]["code"] == "budget_exceeded"
                time.sleep(0.05)
            assert statuses[-1] == 200
            assert proc.poll() is None, "SIGHUP must not stop the gateway"
            remaining = httpx.post(url, json=body, headers=headers, timeout=10)
            assert float(remaining.headers["x-teamgate-budget-remaining-usd"]) > 99

            # The same through `teamgate reload` (the admin API): back to a tiny budget.
            write_config(config, upstream, tmp_path / "ledger.db", port, "0.000001")
            assert "Reloaded" in cli("reload", "--config", str(config), env=env)
            again = httpx.post(url, json=body, headers=headers, timeout=10)
            assert again.status_code == 429
        finally:
            proc.terminate()
            out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0, out.decode()
        assert b"configuration reloaded" in out
        for value in UPSTREAM_SECRETS.values():
            assert value.encode() not in out
