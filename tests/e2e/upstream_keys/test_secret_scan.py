"""No upstream secret value appears in logs, alerts, CLI output, responses, reports or the store."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest

from teamgate.cli import main
from teamgate.simulator import Simulator
from tests.conftest import UPSTREAM_SECRETS
from tests.e2e.upstream_keys.conftest import Webhook, drive_load, write_config
from tests.support.gateway_context import run_in_gateway_loop, running_gateway

SPARE = "gsk_scan_spare_value_7a7a7a"
ADMIN_KEY = "adm_scan_admin_key_5c5c5c5c5c_R8tZq1"
ROTATED = "gsk_scan_rotated_value_8b8b8b"


def test_no_upstream_secret_anywhere(
    slow_simulator: Simulator,
    tmp_path: Path,
    webhook: Webhook,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    sim = slow_simulator
    spare_file = tmp_path / "spare"
    spare_file.write_text(SPARE)
    rotated_file = tmp_path / "rotated"
    rotated_file.write_text(ROTATED)
    patch = {
        "alerts": {"webhook_url": webhook.url},
        "teams": {
            "chatbot": {
                "environments": {
                    "prod": {
                        "upstream_keys": [
                            {"name": "chatbot-prod-2026-04", "secret": "env:GROQ_KEY_CHATBOT_PROD"},
                            {"name": "chatbot-prod-spare", "secret": f"file:{spare_file}"},
                        ]
                    }
                }
            }
        },
    }
    seen: list[str] = []
    with running_gateway(sim, tmp_path, patch, {"TEAMGATE_ADMIN_KEY": ADMIN_KEY}) as gw:
        config = str(write_config(gw, tmp_path / "teamgate.yaml", patch))
        key = gw.key("chatbot", "prod")

        def events(done: int) -> None:
            if done == 50:
                sim.revoke_key(UPSTREAM_SECRETS["GROQ_KEY_CHATBOT_PROD"])

        result = asyncio.run(
            drive_load(gw.url, key, concurrency=50, on_done=events, until=lambda d: d >= 300)
        )
        assert result.errors == []
        webhook.wait_for("upstream_key_rejected")
        argv = ["upstream", "rotate", "--config", config, "--project", "chatbot-prod"]
        assert (
            main([*argv, "--name", "chatbot-prod-2026-05", "--secret", f"file:{rotated_file}"]) == 0
        )
        # A secret that can no longer be read: alert, keep the last value.
        spare_file.unlink()
        run_in_gateway_loop(gw, gw.app.gateway.reload_upstream_keys())
        webhook.wait_for("upstream_secret_unreadable")
        result = asyncio.run(drive_load(gw.url, key, concurrency=20, until=lambda d: d >= 100))
        assert result.errors == []
        assert sim.state.successes(ROTATED) > 0
        # Every client-visible surface.
        for path in ("/metrics", "/health", "/openai/v1/models", "/admin/v1/keys", "/v1/nothing"):
            response = httpx.get(gw.url + path, headers={"authorization": f"Bearer {key}"})
            seen.append(response.text)
            seen.extend(f"{k}: {v}" for k, v in response.headers.items())
        admin = {"authorization": f"Bearer {ADMIN_KEY}"}
        for path in (
            "/metrics",
            "/admin/upstream",
            "/admin/keys",
            "/admin/budget",
            "/admin/usage?group_by=team,key,model",
            "/admin/reports/weekly",
            "/admin/reports/monthly",
            "/admin/overview",
            "/admin/openapi.json",
        ):
            response = httpx.get(gw.url + path, headers=admin)
            assert response.status_code == 200, (path, response.text)
            seen.append(response.text)
        seen.append(
            httpx.get(
                gw.url + "/teamgate/v1/usage", headers={"authorization": f"Bearer {key}"}
            ).text
        )
        sim.revoke_key(ROTATED)
        sim.revoke_key(SPARE)
        refused = httpx.post(
            gw.url + "/openai/v1/chat/completions",
            headers={"authorization": f"Bearer {key}"},
            json={"model": "llama-3.1-8b-instant", "messages": [{"role": "user", "content": "x"}]},
        )
        assert refused.status_code == 503
        seen.append(refused.text)
        for args in (
            ["upstream", "status", "--config", config],
            ["upstream", "status", "--config", config, "--json"],
            ["upstream", "retire", "--config", config, "--name", "chatbot-prod-2026-04"],
            ["upstream", "retire", "--config", config, "--name", "chatbot-prod-2026-04", "--force"],
            ["keys", "list", "--config", config, "--all"],
            ["check", "--config", config],
            ["usage", "--config", config, "--json"],
            ["usage", "--config", config],
            ["report", "monthly", "--config", config, "--format", "json"],
            ["report", "monthly", "--config", config, "--by", "key"],
            ["report", "weekly", "--config", config, "--format", "csv"],
        ):
            main(args)
        seen.extend(repr(r) for r in gw.records())
    captured = capfd.readouterr()
    seen += [captured.out, captured.err, caplog.text]
    seen += [repr(r.__dict__) for r in caplog.records]
    seen += [body.decode() for body in webhook.raw]
    store_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("ledger.db*"))
    # The scan found the things it looks in (so an empty capture cannot pass).
    everything = "\n".join(seen)
    for expected in ("gsk_…0001", "chatbot-prod-2026-05", "upstream_key_rejected", "Groq Console"):
        assert expected in everything
    assert '"requests"' in everything and "llama" in everything  # the admin answers were read
    for secret in [*UPSTREAM_SECRETS.values(), SPARE, ROTATED, ADMIN_KEY, key]:
        assert secret not in everything, f"an upstream secret (…{secret[-4:]}) leaked"
        assert secret.encode() not in store_bytes
