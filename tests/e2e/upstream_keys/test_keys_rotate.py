"""`teamgate keys rotate NAME --grace D`: a successor under the same name, the old key expiring."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import orjson
import pytest

from teamgate.auth.keys import hash_secret, new_client_key, rotate_client_key
from teamgate.cli import main
from teamgate.ledger.sqlite.store import SQLiteStore
from teamgate.simulator import Simulator
from tests.e2e.upstream_keys.conftest import write_config
from tests.support.gateway_context import MSG, running_gateway

T0 = 1_800_000_000.0


async def test_rotate_client_key_keeps_the_old_one_for_the_grace_period() -> None:
    store = SQLiteStore(":memory:")
    await store.open()
    try:
        old, old_secret = new_client_key("chatbot", "prod", "web", now=T0)
        await store.add_client_key(old)
        done = await rotate_client_key(store, "chatbot-prod-web", grace_s=7 * 86400, now=T0 + 10)
        assert done is not None
        successor, secret, old_name, old_expires = done
        assert successor.name == "chatbot-prod-web" and successor.key_hash == hash_secret(secret)
        assert (successor.team, successor.environment, successor.purpose) == (
            "chatbot",
            "prod",
            "web",
        )
        assert old_name == "chatbot-prod-web@rotated-20270115T080010Z"
        assert old_expires == T0 + 10 + 7 * 86400
        renamed = await store.get_client_key(old_name)
        assert renamed is not None and renamed.key_hash == hash_secret(old_secret)
        assert renamed.usable(old_expires - 1) and not renamed.usable(old_expires)
        assert await rotate_client_key(store, "nobody", grace_s=1, now=T0) is None
    finally:
        await store.close()


async def test_grace_never_extends_an_earlier_expiry() -> None:
    store = SQLiteStore(":memory:")
    await store.open()
    try:
        old, _ = new_client_key("chatbot", "prod", "web", now=T0, expires_in_s=3600)
        await store.add_client_key(old)
        done = await rotate_client_key(store, "chatbot-prod-web", grace_s=7 * 86400, now=T0)
        assert done is not None and done[3] == T0 + 3600
    finally:
        await store.close()


def test_keys_rotate_cli_both_keys_work_during_the_grace(
    simulator: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_gateway(simulator, tmp_path, {}) as gw:
        config = write_config(gw, tmp_path / "teamgate.yaml", {})
        old_secret = gw.key("chatbot", "prod")
        argv = ["keys", "rotate", "chatbot-prod-test", "--config", str(config), "--grace", "7d"]
        assert main([*argv, "--json"]) == 0
        out = orjson.loads(capsys.readouterr().out)
        assert out["name"] == "chatbot-prod-test" and out["old_name"].startswith(
            "chatbot-prod-test@rotated-"
        )
        url = gw.url + "/openai/v1/chat/completions"
        body = {"model": "llama-3.1-8b-instant", "messages": MSG}
        # The gateway's key cache follows the store within about a second.
        deadline = time.monotonic() + 10
        while True:
            status = httpx.post(
                url, headers={"authorization": f"Bearer {out['key']}"}, json=body
            ).status_code
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.05)  # polling for the cache refresh, not synchronising
        assert status == 200
        old = httpx.post(url, headers={"authorization": f"Bearer {old_secret}"}, json=body)
        assert old.status_code == 200
        # Usage of the old secret is recorded under its new name: who has not moved yet.
        wanted = {"chatbot-prod-test", out["old_name"]}
        deadline = time.monotonic() + 10
        while not wanted <= {r.client_key for r in gw.records()} and time.monotonic() < deadline:
            time.sleep(0.05)  # the ledger writer flushes every 20 ms
        assert wanted <= {r.client_key for r in gw.records()}
        assert main(["keys", "rotate", "nobody-x-y", "--config", str(config)]) == 2
