"""``report weekly --send`` posts a Slack-friendly message to the alert webhook."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from teamgate.cli import main
from teamgate.http.serving import ServerThread

from .conftest import Ledger


class Inbox:
    """An ASGI app that keeps every POSTed body."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def test_send_posts_the_report(ledger: Ledger, capsys: pytest.CaptureFixture[str]) -> None:
    inbox = Inbox()
    with ServerThread(inbox) as url:
        data = yaml.safe_load(ledger.config.read_text())
        data["alerts"] = {"webhook_url": url + "/hook"}
        config = Path(ledger.config.parent / "send.yaml")
        config.write_text(yaml.safe_dump(data))
        assert main(["report", "weekly", "-c", str(config), "--week", "2026-W47", "--send"]) == 0
    assert len(inbox.bodies) == 1
    text = json.loads(inbox.bodies[0])["text"]
    assert text.startswith("*Weekly report 2026-W47")
    assert "• *chatbot*:" in text and "```" in text
    assert "sent to the alert webhook" in capsys.readouterr().err


def test_send_without_webhook_fails_clearly(
    ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "weekly", "-c", str(ledger.config), "--week", "2026-W47", "--send"]) == 2
    assert "alerts.webhook_url" in capsys.readouterr().err
