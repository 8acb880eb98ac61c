"""Cut-off alerts through a running gateway: one ``budget_exhausted`` post per scope and
period, none after a restart, with worst cases large enough that spend stops short of 95 %."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from teamgate.app import create_app
from teamgate.http.serving import ServerThread
from teamgate.simulator import Simulator
from tests.conftest import UPSTREAM_SECRETS, RunningGateway, start_gateway
from tests.support.budget_gateway import (
    MODEL,
    usd,
    wait_for_records,
    wait_until_known,
    worst_case,
)
from tests.support.loadgen import chat_body, send_all
from tests.support.webhook import WebhookReceiver

HALF = {"x-sim-completion-tokens": "256"}  # about half of analytics' 512-token cap


def exhausted(receiver: WebhookReceiver) -> list[dict[str, Any]]:
    return [p for p in receiver.posts if p.get("event") == "budget_exhausted"]


def drive_to_cutoff(url: str, key: str, rounds: int = 40) -> list[int]:
    statuses: list[int] = []
    for _ in range(rounds):  # small bursts: the budget refuses long before 40 rounds
        statuses += [a.status for a in send_all(url, [(key, chat_body(MODEL), HALF)] * 4)]
    return statuses


# scope -> (config patch for a budget of `n` worst cases, the post's scope and team);
# the key's budget is its own, given when it is created (the patch is empty).
SCOPES: dict[str, tuple[Any, str, str | None]] = {
    "team": (
        lambda b: {"teams": {"analytics": {"monthly_budget_usd": b}}},
        "team:analytics",
        "analytics",
    ),
    "org": (lambda b: {"org": {"monthly_budget_usd": b}}, "org", None),
    "environment": (
        lambda b: {"teams": {"analytics": {"environments": {"prod": {"monthly_budget_usd": b}}}}},
        "env:analytics/prod",
        "analytics",
    ),
    "key": (lambda b: {}, "key:analytics-prod-capped", "analytics"),
}


@pytest.mark.parametrize("scope", sorted(SCOPES))
def test_one_budget_exhausted_post_and_none_after_a_restart(
    simulator: Simulator, tmp_path: Path, scope: str
) -> None:
    patch_of, scope_name, team = SCOPES[scope]
    receiver = WebhookReceiver()
    worst = worst_case(simulator, tmp_path, chat_body(MODEL))
    budget = 12 * worst  # each worst case is 8.3 % of the budget
    with ServerThread(receiver) as hook_url:
        patch = {"alerts": {"webhook_url": hook_url + "/hook"}, **patch_of(usd(budget))}
        gw: RunningGateway | None = None
        for gw in start_gateway(simulator, tmp_path, patch):
            key = gw.key("analytics")
            if scope == "key":
                key = gw.add_key("analytics", "prod", "capped", budget_pusd=budget)
                wait_until_known(gw, key)
            statuses = drive_to_cutoff(gw.url, key)
            assert 200 in statuses and 429 in statuses
            deadline = time.monotonic() + 10
            while not exhausted(receiver):
                assert time.monotonic() < deadline, receiver.posts
                time.sleep(0.05)
            time.sleep(0.3)
        assert gw is not None
        records = wait_for_records(gw, len(statuses))
        spent = sum(r.cost_pusd for r in records)
        assert spent * 100 < 95 * budget, "spend stopped short of 95 %: no threshold says so"
        (post,) = exhausted(receiver)
        assert post["kind"] == "budget_exhausted"
        assert (post["scope"], post["team"]) == (scope_name, team)
        assert Decimal(post["budget_usd"]) == Decimal(usd(budget))
        assert Decimal(post["worst_case_usd"]) == Decimal(usd(worst))
        assert Decimal(post["spent_usd"]) == Decimal(spent) / 10**12
        assert post["resets_at"].endswith("-01T00:00:00Z")
        assert "cut off" in post["text"]

        # A restart on the same ledger: still refused, no second post.
        app = create_app(gw.settings, env=dict(UPSTREAM_SECRETS))
        with ServerThread(app) as url:
            again = drive_to_cutoff(url, key, rounds=3)
            assert set(again) == {429}
            time.sleep(0.5)
    assert len(exhausted(receiver)) == 1
