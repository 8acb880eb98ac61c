"""The `teamgate` command, run as a user would."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
import orjson
import yaml

from tests.conftest import BASE_CONFIG, merge
from tests.e2e.cli.test_serve_reload import SRC
from tests.support.ports import free_port


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": SRC, **(env or {})}
    for name in ("GROQ_API_KEY", "TEAMGATE_CONFIG"):
        full_env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "teamgate", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def config_file(tmp_path: Path, patch: dict[str, object] | None = None) -> Path:
    path = tmp_path / "teamgate.yaml"
    data = merge(
        BASE_CONFIG, {"storage": {"url": f"sqlite:///{tmp_path / 'cli.db'}"}, **(patch or {})}
    )
    path.write_text(yaml.safe_dump(data))
    return path


def create_key(cfg: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`teamgate keys create` for analytics/prod with the given extra arguments."""
    return run_cli(
        "keys", "create", "--config", cfg, "--team", "analytics", "--env", "prod", *args,
        cwd=tmp_path,
    )  # fmt: skip


def test_check_valid_and_invalid(tmp_path: Path) -> None:
    ok = run_cli("check", "--config", str(config_file(tmp_path)), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    for team in ("chatbot", "analytics", "research"):
        assert team in ok.stdout
    bad = config_file(tmp_path, {"teams": {"chatbot": {"limits": {"rpm": -5}}}})
    result = run_cli("check", "--config", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert "teams.chatbot.limits.rpm: must be a positive integer, got -5" in result.stderr


def test_check_defaults_to_the_example(tmp_path: Path) -> None:
    result = run_cli("check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "batch-processor" in result.stdout


def test_keys_lifecycle(tmp_path: Path) -> None:
    cfg = str(config_file(tmp_path))
    made = run_cli(
        "keys",
        "create",
        "--config",
        cfg,
        "--team",
        "chatbot",
        "--env",
        "prod",
        "--purpose",
        "web",
        "--json",
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    created = orjson.loads(made.stdout)
    assert created["name"] == "chatbot-prod-web"
    assert re.fullmatch(r"tg_[0-9A-Za-z]{32,}", created["key"])
    listed = run_cli("keys", "list", "--config", cfg, cwd=tmp_path)
    assert "chatbot-prod-web" in listed.stdout and created["key"] not in listed.stdout
    assert created["key"][-4:] in listed.stdout  # the fingerprint
    listed_json = orjson.loads(
        run_cli("keys", "list", "--config", cfg, "--json", cwd=tmp_path).stdout
    )
    assert [k["name"] for k in listed_json] == ["chatbot-prod-web"]
    assert created["key"] not in str(listed_json)
    dup = run_cli(
        "keys",
        "create",
        "--config",
        cfg,
        "--team",
        "chatbot",
        "--env",
        "prod",
        "--purpose",
        "web",
        cwd=tmp_path,
    )
    assert dup.returncode == 2 and "exists" in dup.stderr
    assert (
        run_cli("keys", "revoke", "chatbot-prod-web", "--config", cfg, cwd=tmp_path).returncode == 0
    )
    assert (
        run_cli("keys", "revoke", "chatbot-prod-web", "--config", cfg, cwd=tmp_path).returncode == 2
    )
    listed = run_cli("keys", "list", "--config", cfg, "--all", cwd=tmp_path)
    assert "revoked" in listed.stdout


def test_keys_create_rejects_unknown_team_and_env(tmp_path: Path) -> None:
    cfg = str(config_file(tmp_path))
    team = run_cli(
        "keys",
        "create",
        "--config",
        cfg,
        "--team",
        "nope",
        "--env",
        "prod",
        "--purpose",
        "x",
        cwd=tmp_path,
    )
    assert team.returncode == 2 and "unknown team 'nope'" in team.stderr
    env = run_cli(
        "keys",
        "create",
        "--config",
        cfg,
        "--team",
        "analytics",
        "--env",
        "staging",
        "--purpose",
        "x",
        cwd=tmp_path,
    )
    assert env.returncode == 2 and "no environment 'staging'" in env.stderr


def test_keys_create_with_expiry(tmp_path: Path) -> None:
    cfg = str(config_file(tmp_path))
    made = create_key(cfg, tmp_path, "--purpose", "cron", "--expires", "30d", "--json")
    assert made.returncode == 0
    (row,) = orjson.loads(run_cli("keys", "list", "--config", cfg, "--json", cwd=tmp_path).stdout)
    created, expires = (datetime.fromisoformat(row[k]) for k in ("created_at", "expires_at"))
    assert expires.tzinfo is not None  # ISO 8601 with its zone, as the admin API
    assert 29.9 * 86400 < (expires - created).total_seconds() <= 30 * 86400


def test_pricing_and_usage(tmp_path: Path) -> None:
    cfg = str(
        config_file(
            tmp_path, {"pricing": {"llama-3.1-8b-instant": {"input": 0.06, "output": 0.09}}}
        )
    )
    prices = run_cli("pricing", "--config", cfg, cwd=tmp_path)
    assert prices.returncode == 0
    line = next(x for x in prices.stdout.splitlines() if x.startswith("llama-3.1-8b-instant"))
    assert "0.06" in line and "config" in line
    missing = run_cli("usage", "--config", cfg, "--json", cwd=tmp_path)
    assert missing.returncode == 2 and "no ledger at" in missing.stderr
    assert create_key(cfg, tmp_path, "--purpose", "web").returncode == 0  # starts the ledger
    usage = run_cli("usage", "--config", cfg, "--json", cwd=tmp_path)
    assert usage.returncode == 0, usage.stderr
    scopes = {s["team"]: s for s in orjson.loads(usage.stdout)["scopes"]}
    assert scopes["chatbot"]["budget_pusd"] == 200 * 10**12
    assert scopes["chatbot"]["budget_usd"] == "200.000000000000"
    assert scopes[None]["scope"] == "org" and scopes[None]["spent_pusd"] == 0
    assert scopes[None]["spent_usd"] == "0.000000000000"


def test_demo_runs(tmp_path: Path) -> None:
    result = run_cli("demo", "--requests", "10", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "model_not_allowed" in result.stdout and "max_tokens_exceeded" in result.stdout


def test_quick_start_serves_with_the_simulator(tmp_path: Path) -> None:
    """The README's first command: the example config, SQLite here, the simulator upstream."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": SRC, "TEAMGATE_SERVER__PORT": str(port)}
    for name in ("GROQ_API_KEY", "TEAMGATE_CONFIG"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "teamgate", "serve"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = ""
        deadline = time.monotonic() + 20
        while "chatbot-prod-quickstart" not in banner:
            line = proc.stderr.readline() if proc.stderr else ""
            assert line or proc.poll() is None, banner
            banner += line
            assert time.monotonic() < deadline, banner
        assert "SIMULATOR MODE" in banner
        secret = re.search(r"chatbot-prod-quickstart: (tg_\w+)", banner).group(1)  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        while True:
            try:
                reply = httpx.post(
                    base + "/openai/v1/chat/completions",
                    json={
                        "model": "llama-3.1-8b-instant",
                        "messages": [{"role": "user", "content": "hi"}],
                    },
                    headers={"authorization": f"Bearer {secret}"},
                    timeout=5,
                )
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert reply.status_code == 200, reply.text
        assert (tmp_path / "teamgate.db").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        assert proc.stderr is not None and proc.stdout is not None
        log = banner + proc.stderr.read()  # (communicate() would skip the wrapper's buffer)
        proc.stderr.close()
        proc.stdout.close()
    assert proc.returncode == 0
    assert (
        "dashboard and admin API off: set TEAMGATE_ADMIN_KEY before `teamgate serve` to turn "
        f"them on (http://127.0.0.1:{port}/dashboard)"
    ) in log
    assert log.count("Shutting down") == 1  # the simulator's server does not say it again
    assert log.count("Finished server process") == 1


def test_keys_create_refuses_absurd_expiry(tmp_path: Path) -> None:
    cfg = str(config_file(tmp_path))
    made = create_key(cfg, tmp_path, "--purpose", "cron", "--expires", "99999999999w")
    assert made.returncode == 2 and "100 years" in made.stderr
    listed = run_cli("keys", "list", "--config", cfg, "--json", cwd=tmp_path)
    assert listed.returncode == 2 and "no ledger at" in listed.stderr  # nothing stored
