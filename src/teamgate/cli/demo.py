"""``teamgate demo``: a short scripted tour on the seed organization.

Starts the Groq simulator and a gateway (temporary SQLite ledger), issues a
key per seed team, sends a burst of traffic with a few requests that policy
must refuse (a model outside the allowlist, too many tokens), and prints a
table of what happened, priced from the ledger.
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp
import orjson

from teamgate.app import create_app
from teamgate.auth.keys import new_client_key
from teamgate.config.loader import example_config_path, load_settings
from teamgate.config.schema import Settings
from teamgate.http.serving import ServerThread
from teamgate.ledger import open_store
from teamgate.pricing.money import format_usd, format_usd_amount
from teamgate.simulator import create_simulator
from teamgate.text.table import render_table

_WRONG_MODEL = {"analytics": "llama-3.3-70b-versatile", "chatbot": "openai/gpt-oss-120b"}


async def _issue_keys(settings: Settings) -> dict[str, str]:
    store = open_store(settings.storage.url)
    await store.open()
    secrets = {}
    for team in settings.teams.values():
        record, secret = new_client_key(team.name, next(iter(team.environments)), "demo")
        await store.add_client_key(record)
        secrets[team.name] = secret
    await store.close()
    return secrets


def _requests_for(team: str, settings: Settings, count: int) -> list[dict[str, object]]:
    cfg = settings.teams[team]
    bodies: list[dict[str, object]] = []
    for i in range(count):
        body: dict[str, object] = {
            "model": cfg.allowed_models[i % len(cfg.allowed_models)],
            "messages": [{"role": "user", "content": f"Request {i} from {team}: say hello."}],
        }
        if i % 10 == 3:
            body["max_completion_tokens"] = cfg.max_tokens_per_request * 2
        if i % 10 == 7 and team in _WRONG_MODEL:
            body["model"] = _WRONG_MODEL[team]
        bodies.append(body)
    return bodies


async def _burst(
    base: str, secrets: dict[str, str], settings: Settings, count: int
) -> dict[str, Counter[str]]:
    outcome: dict[str, Counter[str]] = {team: Counter() for team in secrets}
    async with aiohttp.ClientSession() as session:

        async def one(team: str, body: dict[str, object]) -> None:
            headers = {"authorization": f"Bearer {secrets[team]}"}
            async with session.post(
                f"{base}/openai/v1/chat/completions", data=orjson.dumps(body), headers=headers
            ) as resp:
                data = await resp.read()
                if resp.status == 200:
                    outcome[team]["ok"] += 1
                else:
                    code = orjson.loads(data)["error"]["code"]
                    outcome[team][f"{resp.status} {code}"] += 1

        await asyncio.gather(
            *(one(t, b) for t in secrets for b in _requests_for(t, settings, count))
        )
    return outcome


def run_demo(requests_per_team: int = 30) -> int:
    with tempfile.TemporaryDirectory(prefix="teamgate-demo-") as tmp:
        db = Path(tmp) / "demo.db"
        settings = load_settings(example_config_path(), {})
        with ServerThread(create_simulator().app) as upstream_url:
            settings = dataclasses.replace(
                settings,
                storage=dataclasses.replace(settings.storage, url=f"sqlite:///{db}"),
                upstream=dataclasses.replace(settings.upstream, base_url=upstream_url),
            )
            env = {
                k.secret[4:]: f"gsk_demo_{k.name}"
                for t in settings.teams.values()
                for e in t.environments.values()
                for k in e.upstream_keys
            }
            secrets = asyncio.run(_issue_keys(settings))
            print(f"Issued keys: {', '.join(f'{t}-…-demo' for t in secrets)}")
            started = time.perf_counter()
            with ServerThread(create_app(settings, env=env)) as gateway_url:
                print(f"Gateway at {gateway_url}, simulator at {upstream_url}")
                outcome = asyncio.run(_burst(gateway_url, secrets, settings, requests_per_team))
            elapsed = time.perf_counter() - started
            records = asyncio.run(_records(settings))
    cost: Counter[str] = Counter()
    tokens: Counter[str] = Counter()
    for r in records:
        cost[r.team] += r.cost_pusd
        tokens[r.team] += r.prompt_tokens + r.completion_tokens
    print(f"\n{requests_per_team} requests per team in {elapsed:.2f} s\n")
    header = ("team", "ok", "refused", "tokens", "cost", "budget")
    rows = []
    for team, counts in outcome.items():
        refused = ", ".join(f"{n}x {why}" for why, n in sorted(counts.items()) if why != "ok")
        budget = settings.teams[team].monthly_budget_usd
        rows.append(
            (
                team,
                f"{counts['ok']:,}",
                refused or "-",
                f"{tokens[team]:,}",
                format_usd(cost[team]),
                format_usd_amount(budget),
            )
        )
    print("\n".join(render_table(header, rows, right={1, 3, 4, 5})))
    return 0


async def _records(settings: Settings) -> list:  # type: ignore[type-arg]
    store = open_store(settings.storage.url)
    await store.open()
    try:
        return await store.usage_records(0, time.time() + 60)
    finally:
        await store.close()
