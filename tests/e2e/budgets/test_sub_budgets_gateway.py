"""Issue 15's sub-budgets through a running gateway: 200 concurrent requests against a
team whose staging environment has a sub-budget that fits about 20 % of them and whose
batch key has a cap of its own. What Groq billed (the simulator's count) never exceeds
any scope's budget — key, environment, team, org — in memory and with Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync

from teamgate.http.serving import ServerThread
from teamgate.pricing.prices import PriceTable
from teamgate.pricing.tokens import prompt_token_bound
from teamgate.simulator import Simulator, SimulatorConfig, create_simulator
from tests.conftest import UPSTREAM_SECRETS, build_settings, start_gateway
from tests.support.budget_gateway import MODEL, usd, wait_for_records, wait_until_known
from tests.support.loadgen import chat_body, send_all
from tests.support.shared_services import REDIS_URL, unique_name

CAP = 2048  # chatbot's max tokens per request
LONG = {"x-sim-completion-tokens": str(CAP)}  # the simulator answers with the whole cap
STAGING_UPSTREAM = UPSTREAM_SECRETS["GROQ_KEY_CHATBOT_STAGING"]
N = 200


def delete_prefix(prefix: str) -> None:
    client = redis_sync.Redis.from_url(REDIS_URL)
    try:
        for key in client.scan_iter(match=prefix + "*", count=1000):
            client.delete(key)
    finally:
        client.close()


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    """Groq announcing organization limits 200 long answers never reach: this test is
    about budgets, and Groq's default 6,000 TPM headers would make teamgate pause the
    model (429 ``groq_rate_limit``) part-way, on a schedule set by the machine's speed."""
    config = SimulatorConfig(ratelimit_limit_requests=10**7, ratelimit_limit_tokens=10**9)
    sim = create_simulator(config)
    with ServerThread(sim.app) as url:
        sim.url = url  # type: ignore[attr-defined]
        yield sim


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    if request.param == "memory":
        yield {}
        return
    prefix = unique_name("tgtest") + ":"
    try:
        yield {"redis": {"url": REDIS_URL, "key_prefix": prefix}}
    finally:
        delete_prefix(prefix)


def test_200_concurrent_requests_overshoot_no_scope(
    simulator: Simulator, tmp_path: Path, backend: dict[str, Any]
) -> None:
    body = chat_body(MODEL)
    probe = build_settings(simulator.url, tmp_path / "probe.db")  # type: ignore[attr-defined]
    prices = PriceTable.from_settings(probe)
    worst = prices.worst_case(MODEL, prompt_token_bound(body), CAP)
    budgets = {
        "env": 40 * worst,  # about 20 % of the 200 requests
        "key": 12 * worst,
        "team": 60 * worst,
        "org": 80 * worst,
    }
    patch = {
        **backend,
        "org": {"monthly_budget_usd": usd(budgets["org"])},
        "teams": {
            "chatbot": {
                "monthly_budget_usd": usd(budgets["team"]),
                "environments": {"staging": {"monthly_budget_usd": usd(budgets["env"])}},
            }
        },
    }
    for gw in start_gateway(simulator, tmp_path, patch):
        batch = gw.add_key("chatbot", "staging", "batch", budget_pusd=budgets["key"])
        web = gw.key("chatbot", "staging")
        wait_until_known(gw, batch)
        requests = [(batch if i % 2 else web, body, LONG) for i in range(N)]
        answers = send_all(gw.url, requests)
        ok = [a for a in answers if a.status == 200]
        refused = [a for a in answers if a.status != 200]
        reasons = {a.headers["x-teamgate-refusal"] for a in refused}
        assert ok and refused
        assert {a.code for a in refused} == {"budget_exceeded"}
        assert "environment_budget" in reasons and reasons <= {"environment_budget", "key_budget"}
        records = wait_for_records(gw, N)
        assert len(records) == N

        # What Groq billed for staging (the simulator's own count), and the ledger agrees.
        prompt, completion = simulator.state.billed(STAGING_UPSTREAM)
        price = prices.require(MODEL)
        billed = prompt * price.input_pico_per_token + completion * price.output_pico_per_token
        assert billed == sum(r.cost_pusd for r in records)
        by_key = sum(r.cost_pusd for r in records if r.client_key == "chatbot-staging-batch")
        assert 0 < by_key <= budgets["key"]
        assert billed <= budgets["env"] <= budgets["team"] <= budgets["org"]
        assert billed > budgets["env"] - worst, "a request the sub-budget could pay was refused"
        book = gw.app.gateway.budget
        scopes = {s.scope: s for s in book.snapshot()}
        assert scopes["env:chatbot/staging"].settled_pico == billed
        assert scopes["key:chatbot-staging-batch"].settled_pico == by_key
        assert all(s.reserved_pico == 0 for s in scopes.values())
