"""Groq rejecting an upstream key is a non-event for clients: failover, alert, back-off."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest

from teamgate.simulator import Simulator
from tests.conftest import UPSTREAM_SECRETS
from tests.e2e.upstream_keys.conftest import Webhook, drive_load
from tests.support.gateway_context import MSG, running_gateway

PRIMARY = UPSTREAM_SECRETS["GROQ_KEY_CHATBOT_PROD"]
SPARE = "gsk_test_chatbot_prod_spare_9912"


def two_keys(tmp_path: Path, webhook: Webhook, spare_state: str = "active") -> dict[str, object]:
    spare = tmp_path / "spare_key"
    spare.write_text(SPARE + "\n")
    return {
        "alerts": {"webhook_url": webhook.url},
        "teams": {
            "chatbot": {
                "environments": {
                    "prod": {
                        "upstream_keys": [
                            {"name": "chatbot-prod-2026-04", "secret": "env:GROQ_KEY_CHATBOT_PROD"},
                            {
                                "name": "chatbot-prod-spare",
                                "secret": f"file:{spare}",
                                "state": spare_state,
                            },
                        ]
                    }
                }
            }
        },
    }


def test_revoked_active_key_mid_load(
    slow_simulator: Simulator, tmp_path: Path, webhook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    sim = slow_simulator
    caplog.set_level(logging.WARNING)
    with running_gateway(sim, tmp_path, two_keys(tmp_path, webhook, "draining")) as gw:
        key = gw.key("chatbot", "prod")

        def revoke_at_100(done: int) -> None:
            if done == 100:
                sim.revoke_key(PRIMARY)

        result = asyncio.run(
            drive_load(
                gw.url,
                key,
                concurrency=200,
                on_done=revoke_at_100,
                until=lambda done: sim.state.successes(SPARE) >= 200,
            )
        )
        assert result.errors == []
        assert result.statuses == {200: result.done}
        assert sim.state.successes(SPARE) >= 200
        assert sim.state.successes(PRIMARY) >= 100
        # The gateway stopped sending the revoked key at once: only requests that were
        # already on their way, or one per client racing the mark, got a 401.
        rejected = sim.state.request_count(PRIMARY) - sim.state.successes(PRIMARY)
        assert 1 <= rejected <= 200
        assert sim.state.max_in_flight() >= 100
        alert = webhook.wait_for("upstream_key_rejected")
        assert alert["key"] == "chatbot-prod-2026-04"
        assert alert["fingerprint"] == "gsk_…0001"
        assert "chatbot-prod-2026-04" in alert["text"] and "gsk_…0001" in alert["text"]
        # One alert per key going bad, not one per request in flight.
        assert [p["kind"] for p in webhook.posts].count("upstream_key_rejected") == 1
    logged = [r.getMessage() for r in caplog.records]
    assert any("Groq rejected upstream key `chatbot-prod-2026-04`" in m for m in logged)


def test_no_usable_key_left_is_503_upstream_key_rejected(
    simulator: Simulator, tmp_path: Path, webhook: Webhook
) -> None:
    with running_gateway(simulator, tmp_path, two_keys(tmp_path, webhook)) as gw:
        simulator.revoke_key(PRIMARY)
        simulator.revoke_key(SPARE)
        response = httpx.post(
            gw.url + "/openai/v1/chat/completions",
            headers={"authorization": f"Bearer {gw.key('chatbot', 'prod')}"},
            json={"model": "llama-3.1-8b-instant", "messages": MSG},
        )
        assert response.status_code == 503
        error = response.json()["error"]
        assert error["code"] == "upstream_key_rejected"
        assert "operator has been alerted" in error["message"]
        for secret in (PRIMARY, SPARE):
            assert secret not in response.text


def test_failed_key_is_tried_again_after_the_backoff(
    simulator: Simulator, tmp_path: Path, webhook: Webhook
) -> None:
    patch = two_keys(tmp_path, webhook)
    patch["upstream"] = {"failed_key_backoff_s": 0}
    with running_gateway(simulator, tmp_path, patch) as gw:
        headers = {"authorization": f"Bearer {gw.key('chatbot', 'prod')}"}
        body = {"model": "llama-3.1-8b-instant", "messages": MSG}
        simulator.revoke_key(PRIMARY)
        assert (
            httpx.post(
                gw.url + "/openai/v1/chat/completions", headers=headers, json=body
            ).status_code
            == 200
        )
        assert simulator.state.successes(SPARE) == 1
        # Groq takes the key back (the failure was Groq's): with no back-off left, it is used again.
        simulator.add_key(PRIMARY)
        assert (
            httpx.post(
                gw.url + "/openai/v1/chat/completions", headers=headers, json=body
            ).status_code
            == 200
        )
        assert simulator.state.successes(PRIMARY) == 1
