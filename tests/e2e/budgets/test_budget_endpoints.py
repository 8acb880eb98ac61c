"""150 concurrent Responses and embeddings requests against budgets that fit a fraction.

What Groq bills (the simulator's own token counters, priced) never exceeds the
budget, and the budget is used up to less than one worst case: no request the
budget could pay for is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from teamgate.endpoints.responses import responses_prompt_bound
from teamgate.http.serving import ServerThread
from teamgate.pricing.prices import PriceTable
from teamgate.simulator import Simulator, SimulatorConfig, create_simulator
from teamgate.simulator.responses_api import embeddings_tokens
from tests.conftest import UPSTREAM_SECRETS, build_settings, start_gateway
from tests.support.ledger_wait import records_after
from tests.support.loadgen import send_all

MODEL = "llama-3.1-8b-instant"
EMBED = "nomic-embed-text-v1_5"
EMBED_PICO_PER_TOKEN = 20_000  # $0.02 per 1M tokens
CAP = 512  # analytics' max tokens per request
UPSTREAM = UPSTREAM_SECRETS["GROQ_KEY_ANALYTICS_PROD"]
REQUESTS = 150


@pytest.fixture
def full_answers() -> Iterator[Simulator]:
    """A simulator answering every Responses request with its whole cap."""
    sim = create_simulator(SimulatorConfig(completion_tokens=CAP))
    sim._models = sim._models | {EMBED}
    with ServerThread(sim.app) as url:
        sim.url = url  # type: ignore[attr-defined]
        yield sim


def usd(pico: int) -> str:
    return str(Decimal(pico) / 10**12)


def run(
    sim: Simulator, tmp_path: Path, budget: int, path: str, body: dict[str, Any]
) -> tuple[list[Any], list[Any]]:
    patch = {
        "pricing": {EMBED: {"input": "0.02", "output": "0"}},
        "teams": {
            "analytics": {"allowed_models": [MODEL, EMBED], "monthly_budget_usd": usd(budget)}
        },
    }
    for gw in start_gateway(sim, tmp_path, patch):
        answers = send_all(gw.url, [(gw.key("analytics"), body, {})] * REQUESTS, path)
        records = records_after(gw, REQUESTS)
        assert gw.app.gateway.budget.snapshot()[0].reserved_pico == 0
        return answers, records
    raise AssertionError("no gateway")


def check(answers: list[Any], records: list[Any], billed: int, budget: int, worst: int) -> None:
    ok = [a for a in answers if a.status == 200]
    refused = [a for a in answers if a.status != 200]
    assert ok and refused, (len(ok), len(refused))
    assert {(a.status, a.code) for a in refused} == {(429, "budget_exceeded")}
    assert len(records) == REQUESTS  # one record each, served or refused
    recorded = sum(r.cost_pusd for r in records)
    assert billed <= budget, "Groq billed more than the budget"
    assert recorded <= budget
    assert billed >= budget - worst, "a request the budget could pay for was refused"


def test_150_concurrent_responses_never_overshoot(full_answers: Simulator, tmp_path: Path) -> None:
    body = {"model": MODEL, "input": "Say hello.", "stream": False}
    prices = PriceTable.from_settings(build_settings("http://x", tmp_path / "p.db"))
    worst = prices.worst_case(MODEL, responses_prompt_bound(body), CAP)
    budget = 40 * worst
    answers, records = run(full_answers, tmp_path, budget, "/openai/v1/responses", body)
    prompt, completion = full_answers.state.billed(UPSTREAM)
    check(answers, records, prices.cost(MODEL, prompt, completion), budget, worst)


def test_150_concurrent_embeddings_never_overshoot(full_answers: Simulator, tmp_path: Path) -> None:
    body = {"model": EMBED, "input": ["hello world, this is a sentence to embed"]}
    worst = (len(orjson.dumps(body["input"])) + 16) * EMBED_PICO_PER_TOKEN
    actual = embeddings_tokens(body) * EMBED_PICO_PER_TOKEN
    assert actual < worst
    budget = worst + 60 * actual  # the actual costs of about 60 requests
    answers, records = run(full_answers, tmp_path, budget, "/openai/v1/embeddings", body)
    prompt, _ = full_answers.state.billed(UPSTREAM)
    check(answers, records, prompt * EMBED_PICO_PER_TOKEN, budget, worst)
