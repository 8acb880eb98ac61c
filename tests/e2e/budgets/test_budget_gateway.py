"""Budgets through a running gateway: never overshot, at any concurrency, streaming included."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import groq
import httpx
import pytest

from teamgate.http.serving import ServerThread
from teamgate.simulator import Simulator
from tests.conftest import RunningGateway, start_gateway
from tests.support.budget_gateway import LONG, MODEL, usd, wait_for_records, worst_case
from tests.support.loadgen import chat_body, send_all
from tests.support.webhook import WebhookReceiver


def spend(records: list[Any], team: str | None = None) -> int:
    return sum(r.cost_pusd for r in records if team is None or r.team == team)


@pytest.fixture
def one_team_budget(simulator: Simulator, tmp_path: Path) -> Iterator[tuple[RunningGateway, int]]:
    worst = worst_case(simulator, tmp_path, chat_body(MODEL))
    budget = 50 * worst
    patch = {"teams": {"analytics": {"monthly_budget_usd": usd(budget)}}}
    for gw in start_gateway(simulator, tmp_path, patch):
        yield gw, worst


@pytest.mark.parametrize("stream", [False, True])
def test_200_concurrent_requests_never_overshoot_team_budget(
    one_team_budget: tuple[RunningGateway, int], stream: bool
) -> None:
    gw, worst = one_team_budget
    budget = 50 * worst
    key = gw.key("analytics")
    answers = send_all(gw.url, [(key, chat_body(MODEL, stream=stream), LONG)] * 200)
    ok = [a for a in answers if a.status == 200]
    refused = [a for a in answers if a.status != 200]
    assert ok and refused
    assert {(a.status, a.code) for a in refused} == {(429, "budget_exceeded")}
    assert all(a.headers["x-should-retry"] == "false" for a in refused)
    records = wait_for_records(gw, 200)
    spent = spend(records, "analytics")
    assert spent <= budget
    assert spent >= budget - worst, "a request the budget could pay for was refused"
    assert len([r for r in records if r.status == 200]) == len(ok)
    assert gw.app.gateway.budget.snapshot()[0].reserved_pico == 0


def test_org_cap_across_teams(simulator: Simulator, tmp_path: Path) -> None:
    worst = worst_case(simulator, tmp_path, chat_body(MODEL))
    budget = 60 * worst
    patch = {"org": {"monthly_budget_usd": usd(budget)}}
    for gw in start_gateway(simulator, tmp_path, patch):
        requests = [
            (gw.key(team), chat_body(MODEL), LONG)
            for team in ("chatbot", "analytics", "research")
            for _ in range(70)
        ]
        answers = send_all(gw.url, requests)
        refused = [a for a in answers if a.status != 200]
        assert refused and all(a.code == "budget_exceeded" for a in refused)
        assert "organization" in refused[0].json()["error"]["message"].lower()
        records = wait_for_records(gw, len(requests))
        spent = spend(records)
        assert budget - worst <= spent <= budget


def test_ledger_costs_are_tokens_times_price(gateway: RunningGateway) -> None:
    key = gateway.key("research")
    models = gateway.settings.teams["research"].allowed_models
    answers = send_all(gateway.url, [(key, chat_body(m), {}) for m in models])
    assert all(a.status == 200 for a in answers)
    prices = gateway.app.gateway.prices
    records = wait_for_records(gateway, len(models))
    for answer, model in zip(answers, models, strict=True):
        usage = answer.json()["usage"]
        (rec,) = [r for r in records if r.model_requested == model]
        price = prices.require(model)
        assert rec.cost_pusd == (
            usage["prompt_tokens"] * price.input_pico_per_token
            + usage["completion_tokens"] * price.output_pico_per_token
        )
        assert (rec.prompt_tokens, rec.completion_tokens) == (
            usage["prompt_tokens"],
            usage["completion_tokens"],
        )
        assert rec.usage_source == "reported" and rec.groq_id.startswith("req_")


def test_budget_header_on_every_response(gateway: RunningGateway) -> None:
    (answer,) = send_all(gateway.url, [(gateway.key("analytics"), chat_body(), {})])
    remaining = Decimal(answer.headers["x-teamgate-budget-remaining-usd"])
    assert Decimal("49.99") < remaining < Decimal("50")


def test_sdk_gets_rate_limit_error_after_exactly_one_request(
    simulator: Simulator, tmp_path: Path
) -> None:
    patch = {"teams": {"analytics": {"monthly_budget_usd": "0.000001"}}}
    for gw in start_gateway(simulator, tmp_path, patch):
        sent: list[httpx.Request] = []
        with httpx.Client(event_hooks={"request": [sent.append]}) as http:
            client = groq.Groq(api_key=gw.key("analytics"), base_url=gw.url, http_client=http)
            assert client.max_retries == 2
            with pytest.raises(groq.RateLimitError) as err:
                client.chat.completions.create(
                    model=MODEL, messages=[{"role": "user", "content": "x"}]
                )
        assert len(sent) == 1
        body = err.value.body
        assert isinstance(body, dict)
        error = body.get("error", body)
        assert error["type"] == "insufficient_quota" and error["code"] == "budget_exceeded"
        assert "analytics" in error["message"] and "$0.00" in error["message"]


def _threshold_posts(posts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The analytics team's threshold alerts (a cut-off alert may follow the last one)."""
    return [
        p for p in posts if p.get("team") == "analytics" and p.get("event") == "budget_threshold"
    ]


def test_alert_thresholds_fire_once_to_log_and_webhook(
    simulator: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = WebhookReceiver()
    worst = worst_case(simulator, tmp_path, chat_body(MODEL))
    with ServerThread(receiver) as hook_url:
        patch = {
            "alerts": {"webhook_url": hook_url + "/hook"},
            "teams": {"analytics": {"monthly_budget_usd": usd(40 * worst)}},
        }
        for gw in start_gateway(simulator, tmp_path, patch):
            key = gw.key("analytics")
            for _ in range(4):  # sequential bursts: thresholds are crossed once each
                send_all(gw.url, [(key, chat_body(MODEL), LONG)] * 15)
            deadline = time.monotonic() + 10
            while len(_threshold_posts(receiver.posts)) < 3:
                assert time.monotonic() < deadline, receiver.posts
                time.sleep(0.05)
            time.sleep(0.3)
    team_posts = _threshold_posts(receiver.posts)
    assert sorted(p["threshold"] for p in team_posts) == ["0.5", "0.8", "0.95"]
    assert all("text" in p and p["period"] for p in team_posts)
    logged = [
        r
        for r in caplog.records
        if r.name == "teamgate.alerts"
        and "analytics" in r.getMessage()
        and "cut off" not in r.getMessage()  # the cut-off alert has its own test
    ]
    assert len(logged) == 3
    assert [r.levelname for r in sorted(logged, key=lambda r: r.created)] == [
        "WARNING",
        "WARNING",
        "ERROR",
    ]
    assert hook_url not in caplog.text
