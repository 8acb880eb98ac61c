"""``python -m teamgate.simulator`` serves until terminated and says where."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from teamgate.simulator.cli import main

SRC = Path(__file__).resolve().parents[3] / "src"


def test_module_runs_and_announces_its_url() -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    process = subprocess.Popen(
        [sys.executable, "-m", "teamgate.simulator", "--port", "0", "--completion-tokens", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.fullmatch(r"teamgate simulator listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert match, line
        url = match.group(1)
        headers = {"authorization": "Bearer gsk_cli"}
        body = {"model": "llama-3.1-8b-instant", "messages": [{"role": "user", "content": "x"}]}
        response = httpx.post(
            url + "/openai/v1/chat/completions", json=body, headers=headers, timeout=10
        )
        assert response.json()["usage"]["completion_tokens"] == 3
        assert httpx.get(url + "/_sim/stats").json()["requests"] == 1
    finally:
        process.terminate()
        process.communicate(timeout=10)
    # uvicorn re-raises the SIGTERM it captured once it has shut down cleanly
    assert process.returncode in (0, -signal.SIGTERM)


def test_bad_arguments_exit_2(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--fault", "explode"]) == 2
    assert "unknown fault" in capsys.readouterr().err
    assert main(["--chunk-tokens", "0"]) == 2
