"""Refusals say who refused and what to do: the team's limits, the org's, Groq's; budgets.

The wire body stays Groq's (``rate_limit_exceeded``, ``insufficient_quota``); the
ledger's ``refusal``, the ``x-teamgate-refusal`` header and one log line carry the
reason code of docs/refusals.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from teamgate.http.errors import BUDGET_REASONS, RATE_LIMIT_REASONS
from teamgate.simulator import Simulator
from tests.conftest import UPSTREAM_SECRETS, RunningGateway
from tests.support.admin_gateway import flushed_records, start_admin_gateway

MODEL = "llama-3.1-8b-instant"
GROQ_EXHAUSTED = {
    "x-ratelimit-limit-tokens": "6000",
    "x-ratelimit-remaining-tokens": "0",
    "x-ratelimit-reset-tokens": "50s",
}


def post(gw: RunningGateway, key: str, **extra: Any) -> httpx.Response:
    return httpx.post(
        gw.url + "/openai/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": MODEL, "messages": [{"role": "user", "content": "Hello there"}], **extra},
        timeout=30,
    )


def hold_model_at_groq(gw: RunningGateway) -> None:
    gw.app.gateway.limiter.observe_upstream(MODEL, GROQ_EXHAUSTED)


def nothing(gw: RunningGateway) -> None:
    return None


REJECT = {"on_limit": "reject"}
CASES: list[tuple[str, dict[str, Any], Callable[[RunningGateway], None], int]] = [
    # (reason, config patch, what happens before the last request, requests that pass)
    ("team_rate_limit", {"teams": {"analytics": {**REJECT, "limits": {"rpm": 1}}}}, nothing, 1),
    (
        "org_rate_limit",
        {"org": {"limits": {"rpm": 1}}, "teams": {"analytics": REJECT}},
        nothing,
        1,
    ),
    ("groq_rate_limit", {"teams": {"analytics": REJECT}}, hold_model_at_groq, 0),
    ("team_budget", {"teams": {"analytics": {"monthly_budget_usd": "0.00001"}}}, nothing, 0),
    (
        "org_budget",
        {
            "org": {"monthly_budget_usd": "0.00001"},
            "teams": {"analytics": {"monthly_budget_usd": 1}},
        },
        nothing,
        0,
    ),
]


@pytest.mark.parametrize(("reason", "patch", "before", "passing"), CASES, ids=[c[0] for c in CASES])
def test_each_refusal_names_who_refused(
    simulator: Simulator,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    reason: str,
    patch: dict[str, Any],
    before: Callable[[RunningGateway], None],
    passing: int,
) -> None:
    assert reason in RATE_LIMIT_REASONS + BUDGET_REASONS
    caplog.set_level(logging.INFO, logger="teamgate.refusals")
    for gw in start_admin_gateway(simulator, tmp_path, patch):
        key = gw.key("analytics")
        for _ in range(passing):
            assert post(gw, key).status_code == 200
        before(gw)
        resp = post(gw, key)
        assert resp.status_code == 429
        assert resp.headers["x-teamgate-refusal"] == reason
        error = resp.json()["error"]
        wire = "budget_exceeded" if reason.endswith("budget") else "rate_limit_exceeded"
        assert error["code"] == wire  # Groq's shape, unchanged for the SDKs
        (refused,) = [r for r in flushed_records(gw) if r.refusal]
        assert refused.refusal == reason
        lines = [r.getMessage() for r in caplog.records if r.name == "teamgate.refusals"]
        assert len(lines) == 1
        assert f"team=analytics key=analytics-prod-test model={MODEL}" in lines[0]
        assert lines[0].endswith(f"reason={reason}")
        assert key not in caplog.text
        assert all(secret not in caplog.text for secret in UPSTREAM_SECRETS.values())


def test_budget_refusal_explains_worst_case_and_the_tokens_that_fit(
    simulator: Simulator, tmp_path: Path
) -> None:
    """At a few percent used, a request whose cap does not fit is told the cap that does."""
    # research: 4096-token cap on llama-3.3-70b (0.79 $/1M out) is $0.0032 worst case.
    patch = {"teams": {"research": {"monthly_budget_usd": "0.0006"}}}
    for gw in start_admin_gateway(simulator, tmp_path, patch):
        key = gw.key("research")
        ok = post(gw, key, model="llama-3.3-70b-versatile", max_completion_tokens=20)
        assert ok.status_code == 200, ok.text
        refused = post(gw, key, model="llama-3.3-70b-versatile")
        assert refused.status_code == 429
        message = refused.json()["error"]["message"]
        assert "cannot cover this request's worst case" in message
        assert "has reached its monthly budget" not in message
        fit = int(refused.headers["x-teamgate-max-tokens-fit"])
        assert 0 < fit < 4096
        assert f"Send max_completion_tokens of at most {fit} to fit now." in message
        fits = post(gw, key, model="llama-3.3-70b-versatile", max_completion_tokens=fit)
        assert fits.status_code == 200, fits.text
        too_many = post(gw, key, model="llama-3.3-70b-versatile", max_completion_tokens=fit + 50)
        assert too_many.status_code == 429
