"""``logging.format: json``: every line a JSON object, the access log on demand, no secret."""

from __future__ import annotations

import json
import logging
import signal
import sys
from pathlib import Path

import httpx
import pytest

from teamgate.observability.log_format import JsonFormatter
from teamgate.simulator import Simulator
from tests.conftest import UPSTREAM_SECRETS
from tests.support.serve_process import ADMIN_KEY, ServeProcess

CHAT = {"model": "llama-3.1-8b-instant", "messages": [{"role": "user", "content": "hi"}]}
REQUIRED = {"time", "level", "logger", "message"}


def _requests(proc: ServeProcess, key: str) -> None:
    chat = proc.url + "/openai/v1/chat/completions"
    assert (
        httpx.post(chat, json=CHAT, headers={"Authorization": f"Bearer {key}"}).status_code == 200
    )
    streamed = httpx.post(
        chat, json={**CHAT, "stream": True}, headers={"Authorization": f"Bearer {key}"}
    )
    assert streamed.status_code == 200
    bad = "tg_not_a_real_key_0123456789abcdef"
    assert (
        httpx.post(chat, json=CHAT, headers={"Authorization": f"Bearer {bad}"}).status_code == 401
    )
    assert httpx.get(proc.url + "/nowhere?token=sekrit_query_value").status_code == 404
    admin = httpx.get(proc.url + "/admin/keys", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert admin.status_code == 200


@pytest.mark.parametrize("access_log", [True, False])
def test_every_line_is_json_with_the_fields_and_no_secret(
    simulator: Simulator, tmp_path: Path, access_log: bool
) -> None:
    proc = ServeProcess(
        tmp_path,
        simulator.url,  # type: ignore[attr-defined]
        {"logging": {"format": "json", "access_log": access_log}},
    )
    key = proc.issue_key()
    proc.start()
    try:
        _requests(proc, key)
        proc.signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        proc.stop()
    text = proc.log.read_text()
    lines = [json.loads(line) for line in text.splitlines()]  # every line, or it raises
    assert lines and all(isinstance(line, dict) and set(line) >= REQUIRED for line in lines)
    assert {line["level"] for line in lines} <= {"debug", "info", "warning", "error", "critical"}
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # uvicorn's too
    for secret in [*UPSTREAM_SECRETS.values(), key, ADMIN_KEY, "sekrit_query_value", "tg_not_a"]:
        assert secret not in text
    access = [line for line in lines if line["logger"] == "teamgate.access"]
    if not access_log:
        assert access == []
        return
    by_status = {(a["method"], a["path"], a["status"]): a for a in access}
    chat = by_status[("POST", "/openai/v1/chat/completions", 200)]
    assert chat["team"] == "analytics"
    assert isinstance(chat["latency_ms"], float) and chat["latency_ms"] > 0
    assert chat["message"] == "POST /openai/v1/chat/completions 200"
    refused = by_status[("POST", "/openai/v1/chat/completions", 401)]
    assert "team" not in refused
    assert ("GET", "/nowhere", 404) in by_status
    assert len([a for a in access if a["path"] != "/health"]) == 5


def test_a_traceback_stays_on_one_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("teamgate", logging.ERROR, "", 0, "failed", (), sys.exc_info())
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "failed"
    assert "ValueError: boom" in parsed["exception"]
