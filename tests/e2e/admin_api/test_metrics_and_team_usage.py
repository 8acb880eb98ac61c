"""/metrics agrees with the ledger; a team key reads only its own usage."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from teamgate.admin import create_admin_app
from teamgate.http.serving import ServerThread
from teamgate.simulator import Simulator
from tests.conftest import UPSTREAM_SECRETS, RunningGateway
from tests.support.admin_gateway import (
    ADMIN_KEY,
    chat,
    flushed_records,
    start_admin_gateway,
    traffic,
)


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[s.name].append((s.labels, s.value))
    return out


def test_metrics_parse_and_agree_with_ledger(admin_gateway: RunningGateway) -> None:
    traffic(admin_gateway)
    records = flushed_records(admin_gateway)
    resp = httpx.get(admin_gateway.url + "/metrics", headers={"x-admin-key": ADMIN_KEY})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    m = samples(resp.text)
    requests: dict[tuple[str, str], float] = defaultdict(float)
    for labels, value in m["teamgate_requests_total"]:
        requests[(labels["team"], labels["status"])] += value
    want: dict[tuple[str, str], int] = defaultdict(int)
    for r in records:
        want[(r.team, str(r.status))] += 1
    assert requests == want
    spend = {labels["team"]: int(v) for labels, v in m["teamgate_spend_picodollars_total"]}
    want_spend: dict[str, int] = defaultdict(int)
    for r in records:
        if r.cost_pusd:
            want_spend[r.team] += r.cost_pusd
    assert spend == want_spend
    tokens: dict[tuple[str, str, str], int] = {
        (lb["team"], lb["model"], lb["kind"]): int(v) for lb, v in m["teamgate_tokens_total"]
    }
    want_tokens: dict[tuple[str, str, str], int] = defaultdict(int)
    for r in records:
        if r.prompt_tokens:
            want_tokens[(r.team, r.model_served, "prompt")] += r.prompt_tokens
        if r.completion_tokens:
            want_tokens[(r.team, r.model_served, "completion")] += r.completion_tokens
    assert tokens == want_tokens
    refusals = {(lb["team"], lb["reason"]): int(v) for lb, v in m["teamgate_refusals_total"]}
    want_refusals: dict[tuple[str, str], int] = defaultdict(int)
    for r in records:
        if r.refusal:
            want_refusals[(r.team, r.refusal)] += 1
    assert refusals == want_refusals and refusals
    forwarded = sum(1 for r in records if not r.refusal)
    overhead_count = [v for lb, v in m["teamgate_overhead_seconds_count"]]
    assert overhead_count == [forwarded]
    upstream = {lb["key"]: v for lb, v in m["teamgate_upstream_key_requests_total"]}
    assert upstream["chatbot-prod-2026-04"] == 3
    remaining = {(lb["scope"], lb["team"]): v for lb, v in m["teamgate_budget_remaining_usd"]}
    assert remaining[("org", "")] < 1000 and remaining[("team", "analytics")] <= 50
    # Bounded labels only: no secrets, no request ids, no user text.
    for secret in [*UPSTREAM_SECRETS.values(), *admin_gateway.keys.values()]:
        assert secret not in resp.text
    assert "req_" not in resp.text and "Hello there" not in resp.text


def test_team_reads_own_usage_only(admin_gateway: RunningGateway) -> None:
    traffic(admin_gateway)
    key = admin_gateway.key("chatbot", "prod")
    url = admin_gateway.url + "/teamgate/v1/usage"
    own = httpx.get(url, headers={"Authorization": f"Bearer {key}"})
    assert own.status_code == 200, own.text
    body = own.json()
    records = [r for r in flushed_records(admin_gateway) if r.team == "chatbot"]
    assert body["team"] == "chatbot"
    assert body["usage"]["requests"] == len(records)
    assert body["usage"]["cost_pusd"] == sum(r.cost_pusd for r in records)
    assert body["budget"]["monthly_budget_usd"] == "200.000000000000"
    assert body["budget"]["remaining_pusd"] <= 200 * 10**12 - body["usage"]["cost_pusd"]
    assert "analytics" not in own.text and "research" not in own.text
    same = httpx.get(url, params={"team": "chatbot"}, headers={"Authorization": f"Bearer {key}"})
    assert same.status_code == 200
    for other in ("analytics", "research", "nobody"):
        resp = httpx.get(url, params={"team": other}, headers={"Authorization": f"Bearer {key}"})
        assert resp.status_code == 403
        assert resp.json()["error"]["code"] == "permission_denied"
        assert "200" not in resp.json()["error"]["message"]
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}).status_code == 401


def test_admin_api_on_its_own_listener(simulator: Simulator, tmp_path: Path) -> None:
    patch = {"server": {"admin_host": "127.0.0.1", "admin_port": 1}}
    for gw in start_admin_gateway(simulator, tmp_path, patch):
        assert chat(gw, gw.key("chatbot", "prod")) == 200
        for path in ("/admin/budget", "/metrics", "/dashboard"):
            resp = httpx.get(gw.url + path, headers={"x-admin-key": ADMIN_KEY})
            assert resp.status_code == 404, path
        with ServerThread(create_admin_app(gw.app.gateway)) as admin_url:
            resp = httpx.get(admin_url + "/admin/budget", headers={"x-admin-key": ADMIN_KEY})
            assert resp.status_code == 200
            assert httpx.get(admin_url + "/admin/budget").status_code == 401
            metrics = httpx.get(admin_url + "/metrics", headers={"x-admin-key": ADMIN_KEY})
            assert "teamgate_requests_total" in metrics.text
            assert httpx.post(admin_url + "/openai/v1/chat/completions").status_code == 404
