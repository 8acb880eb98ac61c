"""Shared fixtures: a Groq simulator and a gateway, each a real server on a free port."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from teamgate.app import TeamgateApp, create_app
from teamgate.auth.keys import new_client_key
from teamgate.config.loader import parse_settings
from teamgate.config.schema import Settings
from teamgate.http.serving import ServerThread
from teamgate.ledger import open_store
from teamgate.ledger.records import UsageRecord
from teamgate.simulator import Simulator, create_simulator

# Upstream secrets used by the test configs. Tests grep outputs for these.
UPSTREAM_SECRETS = {
    "GROQ_KEY_CHATBOT_PROD": "gsk_test_chatbot_prod_0001",
    "GROQ_KEY_CHATBOT_STAGING": "gsk_test_chatbot_staging_0002",
    "GROQ_KEY_ANALYTICS_PROD": "gsk_test_analytics_prod_0003",
    "GROQ_KEY_BATCH": "gsk_test_batch_processor_0004",
}

BASE_CONFIG: dict[str, Any] = {
    "storage": {"url": "sqlite:///PLACEHOLDER", "flush_interval_ms": 20},
    "org": {"monthly_budget_usd": 1000},
    "aliases": {"fast": "llama-3.1-8b-instant"},
    "teams": {
        "chatbot": {
            "allowed_models": ["llama-3.3-70b-versatile", "llama-3.1-8b-instant"],
            "max_tokens_per_request": 2048,
            "monthly_budget_usd": 200,
            "environments": {
                "prod": {
                    "upstream_keys": [
                        {"name": "chatbot-prod-2026-04", "secret": "env:GROQ_KEY_CHATBOT_PROD"}
                    ]
                },
                "staging": {
                    "upstream_keys": [
                        {
                            "name": "chatbot-staging-2026-04",
                            "secret": "env:GROQ_KEY_CHATBOT_STAGING",
                        }
                    ]
                },
            },
        },
        "analytics": {
            "allowed_models": ["llama-3.1-8b-instant"],
            "max_tokens_per_request": 512,
            "monthly_budget_usd": 50,
            "environments": {
                "prod": {
                    "upstream_keys": [
                        {"name": "analytics-prod-2026-04", "secret": "env:GROQ_KEY_ANALYTICS_PROD"}
                    ]
                }
            },
        },
        "research": {
            "allowed_models": [
                "llama-3.3-70b-versatile",
                "llama-3.1-8b-instant",
                "meta-llama/llama-4-scout-17b-16e-instruct",
            ],
            "max_tokens_per_request": 4096,
            "monthly_budget_usd": 500,
            "environments": {
                "batch": {
                    "project": "batch-processor",
                    "upstream_keys": [
                        {"name": "batch-processor-2026-04", "secret": "env:GROQ_KEY_BATCH"}
                    ],
                }
            },
        },
    },
}


def merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``patch`` into a copy of ``base`` (None deletes a key)."""
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def build_settings(upstream_url: str, db: Path, patch: dict[str, Any] | None = None) -> Settings:
    data = merge(BASE_CONFIG, patch or {})
    data = merge(
        data, {"upstream": {"base_url": upstream_url}, "storage": {"url": f"sqlite:///{db}"}}
    )
    return parse_settings(data)


@dataclass
class RunningGateway:
    url: str
    settings: Settings
    app: TeamgateApp
    simulator: Simulator
    keys: dict[str, str] = field(default_factory=dict)  # key name -> secret

    def key(self, team: str, env: str | None = None, purpose: str = "test") -> str:
        env = env or next(iter(self.settings.teams[team].environments))
        return self.keys[f"{team}-{env}-{purpose}"]

    def records(self) -> list[UsageRecord]:
        """Every ledger record, after the writer has flushed."""
        return run(_records(self.settings))

    def add_key(self, team: str, env: str, purpose: str, **kw: Any) -> str:
        return run(_add_key(self.settings, self, team, env, purpose, **kw))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _records(settings: Settings) -> list[UsageRecord]:
    store = open_store(settings.storage.url)
    await store.open()
    try:
        return await store.usage_records(0, 1e12)
    finally:
        await store.close()


async def _add_key(
    settings: Settings, gw: RunningGateway, team: str, env: str, purpose: str, **kw: Any
) -> str:
    store = open_store(settings.storage.url)
    await store.open()
    try:
        record, secret = new_client_key(team, env, purpose, **kw)
        await store.add_client_key(record)
    finally:
        await store.close()
    gw.keys[record.name] = secret
    return secret


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    sim = create_simulator()
    with ServerThread(sim.app) as url:
        sim.url = url  # type: ignore[attr-defined]
        yield sim


def start_gateway(
    simulator: Simulator,
    tmp_path: Path,
    patch: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[RunningGateway]:
    """A gateway on a free port with a key per team and environment (``env`` adds variables)."""
    settings = build_settings(simulator.url, tmp_path / "ledger.db", patch)  # type: ignore[attr-defined]
    app = create_app(settings, env={**UPSTREAM_SECRETS, **(env or {})})
    gw = RunningGateway("", settings, app, simulator)
    for team, cfg in settings.teams.items():
        for env in cfg.environments:
            gw.add_key(team, env, "test")
    with ServerThread(app) as url:
        gw.url = url
        yield gw


@pytest.fixture
def gateway(simulator: Simulator, tmp_path: Path) -> Iterator[RunningGateway]:
    yield from start_gateway(simulator, tmp_path)
