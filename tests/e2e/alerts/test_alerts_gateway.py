"""Alerts through a running gateway: requests are served while the webhook and the SMTP
server fail (their retries run beside them), and a pause that ends by its ``until``
sends one ``resumed`` post (the gateway's background watch)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from teamgate.http.serving import ServerThread
from teamgate.ledger import open_store
from teamgate.ledger.pause_records import Pause
from teamgate.simulator import Simulator
from tests.conftest import start_gateway
from tests.support.budget_gateway import LONG, MODEL, usd, worst_case
from tests.support.loadgen import chat_body, send_all
from tests.support.ports import free_port
from tests.support.webhook import WebhookReceiver


def _wait(check: Any, what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_requests_are_served_while_the_webhook_and_smtp_fail(
    simulator: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = WebhookReceiver(status=500)
    worst = worst_case(simulator, tmp_path, chat_body(MODEL))
    with ServerThread(receiver) as hook_url:
        patch = {
            "alerts": {
                "webhook_url": hook_url + "/hook",
                "email": {
                    "host": "127.0.0.1",
                    "port": free_port(),  # nothing listens: every attempt fails
                    "tls": "none",
                    "from": "teamgate@example.com",
                    "to": ["ops@example.com"],
                },
            },
            "teams": {"analytics": {"monthly_budget_usd": usd(40 * worst)}},
        }
        for gw in start_gateway(simulator, tmp_path, patch):
            key = gw.key("analytics")
            statuses = []
            for _ in range(2):  # about 75 % of the budget: the 50 % alert fires
                statuses += [
                    a.status for a in send_all(gw.url, [(key, chat_body(MODEL), LONG)] * 15)
                ]
            assert statuses == [200] * 30
            # the alert is being retried meanwhile, on both channels
            _wait(lambda: len(receiver.posts) >= 2, "a second webhook attempt")
            assert receiver.posts[0] == receiver.posts[1]
            assert receiver.posts[0]["event"] == "budget_threshold"
            _wait(lambda: "alert email failed (SMTPConnectError)" in caplog.text, "SMTP retry")
            # and a request after them is served as before
            assert [a.status for a in send_all(gw.url, [(key, chat_body(MODEL), LONG)])] == [200]


async def _set_pause(url: str, pause: Pause) -> None:
    store = open_store(url)
    await store.open()
    try:
        await store.set_pause(pause)
    finally:
        await store.close()


def test_a_pause_that_expires_sends_one_resumed_post(simulator: Simulator, tmp_path: Path) -> None:
    receiver = WebhookReceiver()
    with ServerThread(receiver) as hook_url:
        patch = {"alerts": {"webhook_url": hook_url + "/hook"}}
        for gw in start_gateway(simulator, tmp_path, patch):
            key = gw.key("chatbot")
            now = time.time()
            asyncio.run(
                _set_pause(
                    gw.settings.storage.url, Pause("team:chatbot", "load test", now + 1.0, now, "a")
                )
            )
            _wait(
                lambda: any(p.get("event") == "resumed" for p in receiver.posts),
                "a resumed post after the pause's end",
            )
            [post] = [p for p in receiver.posts if p["event"] == "resumed"]
            assert (post["scope"], post["expired"], post["actor"]) == (
                "team:chatbot",
                True,
                "expiry",
            )
            assert [a.status for a in send_all(gw.url, [(key, chat_body(MODEL), {})])] == [200]
