"""KeyRing and UpstreamSync: secrets read at start, re-read on a clock, store-driven states."""

from __future__ import annotations

import doctest
import importlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from moto import mock_aws

from teamgate.config.errors import ConfigError
from teamgate.config.loader import parse_settings
from teamgate.config.schema import Settings
from teamgate.ledger.sqlite.store import SQLiteStore
from teamgate.ledger.upstream_records import UpstreamKeyState
from teamgate.secrets import SecretResolver
from teamgate.simulator import Simulator
from teamgate.upstream.keyring import KeyRing
from teamgate.upstream.sync import UpstreamSync
from tests.support.gateway_context import MSG, run_in_gateway_loop, running_gateway

FIRST = "gsk_keyring_first_value_1111"
SECOND = "gsk_keyring_second_value_2222"


def one_project(secret_ref: str, *more: dict[str, str]) -> Settings:
    keys = [{"name": "ops-prod-1", "secret": secret_ref}, *more]
    return parse_settings(
        {
            "secrets": {"refresh_interval_s": 60},
            "teams": {
                "ops": {
                    "allowed_models": ["llama-3.1-8b-instant"],
                    "max_tokens_per_request": 64,
                    "environments": {"prod": {"upstream_keys": keys}},
                }
            },
        }
    )


class Alerts:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    def __call__(self, kind: str, text: str, fields: dict[str, Any], **_: Any) -> None:
        self.sent.append((kind, text, fields))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store() -> AsyncIterator[SQLiteStore]:
    backend = SQLiteStore(":memory:")
    await backend.open()
    yield backend
    await backend.close()


def test_unreadable_secret_at_start_is_an_error_naming_the_reference() -> None:
    with pytest.raises(ConfigError) as caught:
        KeyRing(one_project("env:OPS_KEY"), SecretResolver({}))
    text = str(caught.value)
    assert "teams.ops.environments.prod.upstream_keys[0].secret" in text
    assert "env:OPS_KEY: environment variable OPS_KEY is not set" in text


async def test_changed_file_secret_is_used_after_the_interval(
    tmp_path: Path, store: SQLiteStore
) -> None:
    path = tmp_path / "ops_key"
    path.write_text(FIRST)
    ring = KeyRing(one_project(f"file:{path}"), SecretResolver({}))
    clock = Clock()
    sync = UpstreamSync(ring, store, secrets_interval_s=60, clock=clock)
    await sync.start()
    try:
        pool = ring.by_env[("ops", "prod")]
        held = pool.choose(0.0)
        assert held is not None and held.secret == FIRST
        in_flight = held.secret  # what a request already sent carries
        path.write_text(SECOND + "\n")
        clock.now = 59.0
        await sync.tick()
        assert pool.choose(0.0).secret == FIRST  # type: ignore[union-attr]
        clock.now = 60.0
        assert await sync.tick() == []
        assert pool.choose(0.0).secret == SECOND  # type: ignore[union-attr]
        assert in_flight == FIRST
    finally:
        await sync.close()


async def test_unreadable_secret_keeps_the_last_value_and_alerts_once(
    tmp_path: Path, store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "ops_key"
    path.write_text(FIRST)
    ring = KeyRing(one_project(f"file:{path}"), SecretResolver({}))
    alerts = Alerts()
    ring.notify = alerts
    clock = Clock()
    sync = UpstreamSync(ring, store, secrets_interval_s=10, clock=clock)
    await sync.start()
    try:
        path.unlink()
        clock.now = 10.0
        problems = await sync.tick()
        assert [p.key for p in problems] == ["ops-prod-1"]
        assert ring.key("ops-prod-1").secret == FIRST  # type: ignore[union-attr]
        [(kind, text, fields)] = alerts.sent
        assert kind == "upstream_secret_unreadable"
        assert f"file:{path}: cannot read the file" in text
        assert "keeping the last good value" in text
        assert fields == {"key": "ops-prod-1", "secret_ref": f"file:{path}"}
        clock.now = 20.0
        await sync.tick()
        assert len(alerts.sent) == 1  # still failing: no new alert
        path.write_text(SECOND)
        clock.now = 30.0
        caplog.set_level(logging.WARNING)
        assert await sync.tick() == []
        assert ring.key("ops-prod-1").secret == SECOND  # type: ignore[union-attr]
        assert "ops-prod-1: its secret can be read again" in caplog.text
        for _, text, _ in alerts.sent:
            assert FIRST not in text and SECOND not in text
    finally:
        await sync.close()


async def test_reload_reads_secrets_at_once(tmp_path: Path, store: SQLiteStore) -> None:
    path = tmp_path / "ops_key"
    path.write_text(FIRST)
    ring = KeyRing(one_project(f"file:{path}"), SecretResolver({}))
    sync = UpstreamSync(ring, store, secrets_interval_s=3600, clock=Clock())
    await sync.start()
    try:
        path.write_text(SECOND)
        await sync.reload()
        assert ring.key("ops-prod-1").secret == SECOND  # type: ignore[union-attr]
    finally:
        await sync.close()


async def test_aws_secret_change_is_picked_up(
    monkeypatch: pytest.MonkeyPatch, store: SQLiteStore
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        aws = boto3.client("secretsmanager", region_name="eu-west-1")
        aws.create_secret(Name="teamgate/ops", SecretString=f'{{"prod": "{FIRST}"}}')
        ring = KeyRing(one_project("aws-sm:teamgate/ops#prod"), SecretResolver({}))
        clock = Clock()
        sync = UpstreamSync(ring, store, secrets_interval_s=60, clock=clock)
        await sync.start()
        try:
            assert ring.key("ops-prod-1").secret == FIRST  # type: ignore[union-attr]
            aws.put_secret_value(SecretId="teamgate/ops", SecretString=f'{{"prod": "{SECOND}"}}')
            clock.now = 60.0
            await sync.tick()
            assert ring.key("ops-prod-1").secret == SECOND  # type: ignore[union-attr]
        finally:
            await sync.close()


async def test_store_states_reorder_add_and_retire_keys(store: SQLiteStore) -> None:
    env = {"K1": FIRST, "K2": SECOND, "K3": "gsk_keyring_third_value_3333"}
    settings = one_project("env:K1", {"name": "ops-prod-2", "secret": "env:K2"})
    ring = KeyRing(settings, SecretResolver(env))
    sync = UpstreamSync(ring, store, clock=Clock())
    await sync.start()
    try:
        pool = ring.by_env[("ops", "prod")]
        assert [k.name for k in pool.keys] == ["ops-prod-1", "ops-prod-2"]
        await store.set_upstream_key_states(
            [
                UpstreamKeyState("ops-prod-3", "ops-prod", "active", "env:K3", 0, 1.0),
                UpstreamKeyState("ops-prod-1", "ops-prod", "draining", "env:K1", 1, 1.0),
                UpstreamKeyState("ops-prod-2", "ops-prod", "retired", "env:K2", 2, 1.0),
            ]
        )
        await sync.tick()
        assert [(k.name, k.state) for k in pool.keys] == [
            ("ops-prod-3", "active"),
            ("ops-prod-1", "draining"),
            ("ops-prod-2", "retired"),
        ]
        assert pool.choose(0.0).name == "ops-prod-3"  # type: ignore[union-attr]
        assert pool.choose(0.0, frozenset({"ops-prod-3"})).name == "ops-prod-1"  # type: ignore[union-attr]
        assert pool.choose(0.0, frozenset({"ops-prod-3", "ops-prod-1"})) is None
    finally:
        await sync.close()


async def test_a_stored_key_whose_secret_is_gone_fails_the_start(store: SQLiteStore) -> None:
    await store.set_upstream_key_states(
        [UpstreamKeyState("ops-prod-9", "ops-prod", "active", "env:GONE", 0, 1.0)]
    )
    ring = KeyRing(one_project("env:K1"), SecretResolver({"K1": FIRST}))
    with pytest.raises(ConfigError, match=r"upstream key ops-prod-9 \(from the store\).*env:GONE"):
        await UpstreamSync(ring, store).start()


async def test_usage_is_flushed_to_the_store(store: SQLiteStore) -> None:
    ring = KeyRing(one_project("env:K1"), SecretResolver({"K1": FIRST}))
    sync = UpstreamSync(ring, store, clock=Clock())
    await sync.start()
    key = ring.key("ops-prod-1")
    assert key is not None
    ring.count(key, 7200.0)
    ring.count(key, 7260.0, failed=True)
    await sync.close()  # flushes
    [usage] = await store.upstream_key_usage(7300.0)
    assert (usage.name, usage.fingerprint, usage.requests, usage.failures) == (
        "ops-prod-1",
        "gsk_…1111",
        2,
        1,
    )
    assert (usage.first_used_at, usage.last_used_at, usage.requests_24h) == (7200.0, 7260.0, 2)


def test_changed_secret_through_a_running_gateway(simulator: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "chatbot_prod_key"
    path.write_text(FIRST)
    patch = {
        "teams": {
            "chatbot": {
                "environments": {
                    "prod": {
                        "upstream_keys": [{"name": "chatbot-prod-1", "secret": f"file:{path}"}]
                    }
                }
            }
        }
    }
    with running_gateway(simulator, tmp_path, patch) as gw:
        url = gw.url + "/openai/v1/chat/completions"
        headers = {"authorization": f"Bearer {gw.key('chatbot', 'prod')}"}
        body = {"model": "llama-3.1-8b-instant", "messages": MSG}
        assert httpx.post(url, headers=headers, json=body).status_code == 200
        path.write_text(SECOND)
        run_in_gateway_loop(gw, gw.app.gateway.reload_upstream_keys())
        assert httpx.post(url, headers=headers, json=body).status_code == 200
        assert simulator.state.successes(FIRST) == 1
        assert simulator.state.successes(SECOND) == 1


@pytest.mark.parametrize(
    "name",
    [
        "teamgate.upstream.plan",
        "teamgate.upstream.usage",
        "teamgate.upstream.pool",
        "teamgate.upstream.operations",
        "teamgate.ledger.sqlite.upstream",
        "teamgate.auth.keys",
    ],
)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


async def test_reconfigure_adds_keys_and_projects(store: SQLiteStore) -> None:
    env = {"K1": FIRST, "K2": SECOND}
    ring = KeyRing(one_project("env:K1"), SecretResolver(env))
    by_env = ring.by_env
    sync = UpstreamSync(ring, store, clock=Clock())
    await sync.start()
    try:
        wider = parse_settings(
            {
                "teams": {
                    "ops": {
                        "allowed_models": ["llama-3.1-8b-instant"],
                        "max_tokens_per_request": 64,
                        "environments": {
                            "prod": {"upstream_keys": [{"name": "ops-prod-1", "secret": "env:K1"}]},
                            "dev": {"upstream_keys": [{"name": "ops-dev-1", "secret": "env:K2"}]},
                        },
                    }
                }
            }
        )
        ring.reconfigure(wider)
        await sync.reload()
        assert by_env[("ops", "dev")].choose(0.0).secret == SECOND  # type: ignore[union-attr]
        assert by_env[("ops", "prod")].choose(0.0).secret == FIRST  # type: ignore[union-attr]
    finally:
        await sync.close()
