"""`teamgate upstream rotate | retire | status` and `teamgate keys rotate`."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from teamgate.cli import main
from teamgate.config.loader import parse_settings
from teamgate.ledger.sqlite.store import SQLiteStore
from teamgate.ledger.upstream_records import UpstreamUsageDelta
from teamgate.secrets import SecretResolver
from teamgate.simulator import Simulator
from teamgate.upstream.operations import OperationRefused, key_status, retire, rotate
from tests.conftest import BASE_CONFIG, UPSTREAM_SECRETS, RunningGateway, merge
from tests.e2e.upstream_keys.conftest import drive_load, write_config
from tests.support.gateway_context import running_gateway

OLD = UPSTREAM_SECRETS["GROQ_KEY_CHATBOT_PROD"]
NEW = "gsk_test_chatbot_prod_may_5505"
DAY = 86400.0


def test_rotation_under_load(
    slow_simulator: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = slow_simulator
    new_file = tmp_path / "new_key"
    new_file.write_text(NEW)
    with running_gateway(sim, tmp_path, {}) as gw:
        config = write_config(gw, tmp_path / "teamgate.yaml", {})
        argv = [
            "upstream", "rotate", "--config", str(config), "--project", "chatbot-prod",
            "--name", "chatbot-prod-2026-05", "--secret", f"file:{new_file}",
        ]  # fmt: skip
        exit_codes: list[int] = []
        switched: dict[str, int] = {}
        rotation: list[asyncio.Task[None]] = []

        async def run_rotate() -> None:
            exit_codes.append(await asyncio.to_thread(main, argv))

        def on_done(done: int) -> None:
            if done == 150:
                rotation.append(asyncio.get_running_loop().create_task(run_rotate()))
            if "old" not in switched and sim.state.successes(NEW) > 0:
                switched["old"] = sim.state.request_count(OLD)

        async def load() -> Any:
            result = await drive_load(
                gw.url,
                gw.key("chatbot", "prod"),
                concurrency=200,
                on_done=on_done,
                until=lambda done: sim.state.successes(NEW) >= 400,
            )
            await asyncio.gather(*rotation)
            return result

        result = asyncio.run(load())
        assert exit_codes == [0]
        assert result.errors == []
        assert result.statuses == {200: result.done}
        # The key check went to Groq first (GET /models with the new key), then traffic moved.
        first_new = sim.state.requests(NEW)[0]
        assert (first_new.method, first_new.path) == ("GET", "/openai/v1/models")
        assert sim.state.successes(NEW) >= 400
        # The old key stopped: after the switch only requests already in flight used it.
        assert sim.state.request_count(OLD) - switched["old"] <= 200
        assert sim.state.max_in_flight() >= 100  # hundreds of requests were in flight
        assert sim.state.request_count(OLD) >= 150
        out = capsys.readouterr().out
        assert "chatbot-prod-2026-05 is now the preferred active key of project chatbot-prod" in out
        assert "Draining (used only if chatbot-prod-2026-05 fails): chatbot-prod-2026-04." in out

        # status shows both, with fingerprints and traffic (after the gateway flushed usage).
        status = wait_for_status(
            config, lambda rows: rows["chatbot-prod-2026-05"]["requests"] >= 400
        )
        assert status["chatbot-prod-2026-05"]["state"] == "active"
        assert status["chatbot-prod-2026-05"]["fingerprint"] == "gsk_…5505"
        assert status["chatbot-prod-2026-04"]["state"] == "draining"
        assert status["chatbot-prod-2026-04"]["fingerprint"] == "gsk_…0001"
        assert status["chatbot-prod-2026-04"]["requests_24h"] == sim.state.request_count(OLD)


def wait_for_status(config: Path, ready: Any, attempts: int = 50) -> dict[str, dict[str, Any]]:
    """`upstream status --json` by key name, once ``ready(rows)`` (usage is flushed each second)."""
    import contextlib
    import io

    for _ in range(attempts):
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            assert main(["upstream", "status", "--config", str(config), "--json"]) == 0
        rows = {row["key"]: row for row in orjson.loads(buffer.getvalue())}
        if ready(rows):
            return rows
        time.sleep(0.1)  # polling the store for the gateway's next usage flush
    raise AssertionError(f"status never became ready: {rows}")


def test_rotate_checks_the_new_key_with_groq_before_anything(
    simulator: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rejected = "gsk_test_rejected_key_4404"
    simulator.revoke_key(rejected)
    key_file = tmp_path / "k"
    key_file.write_text(rejected)
    with running_gateway(simulator, tmp_path, {}) as gw:
        config = write_config(gw, tmp_path / "teamgate.yaml", {})
        code = main(
            ["upstream", "rotate", "--config", str(config), "--project", "chatbot-prod",
             "--name", "chatbot-prod-2026-05", "--secret", f"file:{key_file}"]
        )  # fmt: skip
        assert code == 1
        err = capsys.readouterr().err
        assert "Groq rejected the new key (401 invalid_api_key); nothing changed" in err
        assert rejected not in err
        status = wait_for_status(config, lambda rows: True)
        assert set(status) == {
            "chatbot-prod-2026-04", "chatbot-staging-2026-04", "analytics-prod-2026-04",
            "batch-processor-2026-04",
        }  # fmt: skip


def test_rotate_refuses_an_unreadable_reference_naming_it(
    simulator: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_gateway(simulator, tmp_path, {}) as gw:
        config = write_config(gw, tmp_path / "teamgate.yaml", {})
        code = main(
            ["upstream", "rotate", "--config", str(config), "--project", "chatbot-prod",
             "--name", "x-1", "--secret", "env:NO_SUCH_VARIABLE_FOR_TEAMGATE"]
        )  # fmt: skip
        assert code == 1
        assert "env:NO_SUCH_VARIABLE_FOR_TEAMGATE" in capsys.readouterr().err
        assert simulator.state.request_count() == 0


# --- retire, with the clock in the test's hands -----------------------------------


def settings_for(tmp_path: Path) -> Any:
    data = merge(BASE_CONFIG, {"storage": {"url": f"sqlite:///{tmp_path / 'db.sqlite'}"}})
    return parse_settings(data)


def used_at(at: float, n: int = 1) -> UpstreamUsageDelta:
    return UpstreamUsageDelta(n, 0, at, at, "gsk_…0001", {int(at) // 3600 * 3600: n})


async def test_retire_refuses_a_key_used_a_minute_ago_and_accepts_an_idle_one(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path)
    store = SQLiteStore(":memory:")
    await store.open()
    try:
        now = 1_800_000_000.0
        await store.record_upstream_usage({"chatbot-prod-2026-04": used_at(now - 60)})
        fake_check_calls: list[str] = []

        async def groq_accepts(base_url: str, secret: str) -> None:
            fake_check_calls.append(secret)

        await rotate(
            settings, store, project="chatbot-prod", name="chatbot-prod-2026-05",
            secret_ref="env:NEW", resolver=SecretResolver({"NEW": NEW}), check=groq_accepts,
            now=now,
        )  # fmt: skip
        assert fake_check_calls == [NEW]
        with pytest.raises(OperationRefused) as refused:
            await retire(settings, store, name="chatbot-prod-2026-04", now=now)
        message = str(refused.value)
        assert "served a request 1 minute ago" in message
        assert "idle for 24h before it is retired, which is at 2027-01-16T07:59Z" in message
        assert "--force" in message
        # Still refused 23 h 58 min later; accepted once a full day has passed.
        with pytest.raises(OperationRefused):
            await retire(settings, store, name="chatbot-prod-2026-04", now=now + DAY - 120)
        done = await retire(settings, store, name="chatbot-prod-2026-04", now=now + DAY)
        assert (done.project, done.fingerprint, done.forced) == ("chatbot-prod", "gsk_…0001", False)
        rows = {r.name: r for r in await key_status(settings, store, now + DAY)}
        assert rows["chatbot-prod-2026-04"].state == "retired"
        assert rows["chatbot-prod-2026-05"].state == "active"
        with pytest.raises(OperationRefused, match="already retired"):
            await retire(settings, store, name="chatbot-prod-2026-04", now=now + DAY)
    finally:
        await store.close()


async def test_retire_force_and_last_key_guard(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    store = SQLiteStore(":memory:")
    await store.open()
    try:
        now = 1_800_000_000.0
        await store.record_upstream_usage({"analytics-prod-2026-04": used_at(now - 5)})
        with pytest.raises(OperationRefused, match="last usable key of project analytics-prod"):
            await retire(settings, store, name="analytics-prod-2026-04", now=now + 2 * DAY)
        done = await retire(settings, store, name="analytics-prod-2026-04", force=True, now=now)
        assert done.forced
        with pytest.raises(OperationRefused, match="no upstream key named 'nope'"):
            await retire(settings, store, name="nope", now=now)
    finally:
        await store.close()


def test_retire_cli_refuses_then_accepts(
    simulator: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_gateway(simulator, tmp_path, {}) as gw:
        config = write_config(gw, tmp_path / "teamgate.yaml", {})
        gw_store(gw, {"chatbot-staging-2026-04": used_at(time.time() - 60)})
        # A second key for the project, so retiring the first leaves one.
        new_file = tmp_path / "k"
        new_file.write_text(NEW)
        assert main(
            ["upstream", "rotate", "--config", str(config), "--project", "chatbot-staging",
             "--name", "chatbot-staging-2026-05", "--secret", f"file:{new_file}"]
        ) == 0  # fmt: skip
        capsys.readouterr()
        argv = ["upstream", "retire", "--config", str(config), "--name", "chatbot-staging-2026-04"]
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "not retired: chatbot-staging-2026-04 served a request 1 minute ago" in err
        assert main([*argv, "--quiet-period", "30s"]) == 0
        out = capsys.readouterr().out
        assert "Retired chatbot-staging-2026-04 (gsk_…0001): idle since" in out
        assert (
            "Left to do by hand: delete the key in the Groq Console, Project chatbot-staging."
            in out
        )


def gw_store(gw: RunningGateway, usage: dict[str, UpstreamUsageDelta]) -> None:
    async def write() -> None:
        store = SQLiteStore(gw.settings.storage.url.removeprefix("sqlite:///"))
        await store.open()
        try:
            await store.record_upstream_usage(usage)
        finally:
            await store.close()

    asyncio.run(write())
