"""Security: slowed 401s that never lock out a valid key, TLS served directly, and no
secret in any log line, error body, header or CLI output."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from teamgate.auth.throttle import AuthFailureThrottle
from teamgate.simulator import Simulator
from tests.conftest import UPSTREAM_SECRETS, RunningGateway, start_gateway
from tests.support.chat_checks import assert_groq_error, chat, records_when
from tests.support.serve_process import ADMIN_KEY, SRC, ServeProcess

CHAT = "/openai/v1/chat/completions"


def test_throttle_counts_per_address_per_minute() -> None:
    now = [100.0]
    throttle = AuthFailureThrottle(3, 0.5, clock=lambda: now[0])
    assert [throttle.failed("a") for _ in range(5)] == [0, 0, 0, 0.5, 0.5]
    assert throttle.failed("b") == 0 and throttle.failures("a") == 5
    now[0] += 59.9
    assert throttle.failed("a") == 0.5
    now[0] += 0.2  # the minute is over
    assert throttle.failures("a") == 0 and throttle.failed("a") == 0


def test_throttle_memory_is_bounded() -> None:
    throttle = AuthFailureThrottle(1, 1.0, max_addresses=100, clock=lambda: 0.0)
    for i in range(10_000):
        throttle.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(throttle._counts) <= 100


def test_throttle_off_with_limit_zero() -> None:
    throttle = AuthFailureThrottle(0, 1.0)
    assert all(throttle.failed("a") == 0 for _ in range(100))


@pytest.fixture
def slow_401_gw(simulator: Simulator, tmp_path: Path) -> Iterator[RunningGateway]:
    patch = {"server": {"auth_failure_limit": 3, "auth_failure_delay_s": 2.0}}
    yield from start_gateway(simulator, tmp_path, patch)


def test_repeated_401s_are_slowed_but_valid_keys_never_are(
    slow_401_gw: RunningGateway, caplog: pytest.LogCaptureFixture
) -> None:
    gw = slow_401_gw
    url = gw.url + CHAT
    bad = {"authorization": "Bearer tg_guessed_key_000000000000000000000000"}
    for _ in range(3):
        assert_groq_error(httpx.post(url, content=b"{}", headers=bad), 401, "invalid_api_key")
    started = time.monotonic()
    assert_groq_error(httpx.post(url, content=b"{}", headers=bad), 401, "invalid_api_key")
    assert time.monotonic() - started >= 2.0, "the 4th failure within a minute is slowed"
    assert "failed authentication 3 times" in caplog.text
    started = time.monotonic()
    assert chat(gw).status_code == 200  # same address, valid key: served, not slowed
    assert time.monotonic() - started < 1.5
    records_when(gw, 1)


def _self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_serve_with_ssl_certfile_and_keyfile(simulator: Simulator, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    proc = ServeProcess(
        tmp_path,
        simulator.url,  # type: ignore[attr-defined]
        extra_args=("--ssl-certfile", str(cert), "--ssl-keyfile", str(key)),
        scheme="https",
    )
    secret = proc.issue_key()
    proc.start()
    try:
        body = b'{"model": "llama-3.1-8b-instant", "messages": [{"role": "user", "content": "hi"}]}'
        resp = httpx.post(
            proc.url + CHAT,
            content=body,
            headers={"authorization": f"Bearer {secret}"},
            verify=False,
            timeout=10,
        )
        assert resp.status_code == 200, resp.text
        # TLS served directly: HSTS and nosniff on every answer, errors included.
        missing = httpx.get(proc.url + "/nowhere", verify=False, timeout=10)
        for answer in (resp, missing):
            assert answer.headers["strict-transport-security"] == "max-age=31536000"
            assert answer.headers["x-content-type-options"] == "nosniff"
        with pytest.raises(httpx.HTTPError):  # plain HTTP is not served on the TLS port
            httpx.post(proc.url.replace("https", "http") + CHAT, content=body, timeout=5)
    finally:
        proc.stop()


def test_no_secret_in_logs_error_bodies_headers_or_cli_output(
    gateway: RunningGateway, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    webhook_token = "whsec_test_hook_token_55aa"
    seen: list[str] = []

    def keep(resp: httpx.Response) -> None:
        seen.append(resp.text)
        seen.append(str(resp.headers))

    # Every kind of answer: success, stream, refusals, upstream faults, bad keys.
    keep(chat(gateway))
    keep(chat(gateway, stream=True))
    for fault in ("500", "503;plain", "reset", "401", "429;retry_after=60", "malformed"):
        keep(chat(gateway, fault=fault))
    keep(chat(gateway, headers={"authorization": "Bearer tg_not_a_real_key_123456"}))
    keep(chat(gateway, headers={"authorization": f"Bearer {UPSTREAM_SECRETS['GROQ_KEY_BATCH']}"}))
    keep(chat(gateway, team="chatbot", max_tokens=100_000))
    keep(httpx.get(gateway.url + "/openai/v1/models", headers={"authorization": "Bearer x"}))
    records_when(gateway, 9)

    # The CLI, with every secret in its environment.
    proc = ServeProcess(
        tmp_path,
        gateway.simulator.url,
        {"alerts": {"webhook_url": f"https://hooks.example.com/{webhook_token}"}},
    )  # type: ignore[attr-defined]
    config = proc.config
    env = {**os.environ, "PYTHONPATH": SRC, **UPSTREAM_SECRETS, "TEAMGATE_ADMIN_KEY": ADMIN_KEY}
    for args in (
        ["check"],
        ["keys", "list"],
        ["usage"],
        ["pricing"],
        ["keys", "create", "--team", "analytics", "--env", "prod", "--purpose", "cli"],
    ):
        out = subprocess.run(
            [sys.executable, "-m", "teamgate", *args, "--config", str(config)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        seen.append(out.stdout + out.stderr)
        assert out.stdout.strip(), (args, out.stderr)
        assert out.returncode == 0, out.stderr

    secrets = {*UPSTREAM_SECRETS.values(), *gateway.keys.values(), ADMIN_KEY, webhook_token}
    assert gateway.simulator.state.authorizations() & {
        f"Bearer {s}" for s in UPSTREAM_SECRETS.values()
    }, "the upstream secrets were in use"
    haystacks = {"log": caplog.text, "answers and CLI": "\n".join(seen)}
    for where, text in haystacks.items():
        for secret in secrets:
            assert secret not in text, f"a secret ({secret[:6]}…) appears in the {where}"
