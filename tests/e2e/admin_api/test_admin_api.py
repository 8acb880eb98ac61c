"""The admin API: every route needs the admin key; usage, keys, upstream, budget, reload."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime

import httpx
import pytest

from teamgate.admin.routes import ROUTES
from tests.conftest import UPSTREAM_SECRETS, RunningGateway
from tests.support.admin_gateway import ADMIN_KEY, admin, chat, flushed_records, traffic


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "chatbot-prod-test", path)


ALL_ROUTES = [(r.method, concrete(r.path)) for r in ROUTES] + [("GET", "/admin/openapi.json")]


def test_no_admin_route_answers_without_the_admin_key(admin_gateway: RunningGateway) -> None:
    for method, path in ALL_ROUTES:
        for headers in (
            {},
            {"Authorization": "Bearer wrong-key"},
            {"x-admin-key": ADMIN_KEY[:-1]},
            {"Authorization": f"Bearer {admin_gateway.key('chatbot', 'prod')}"},
        ):
            resp = httpx.request(method, admin_gateway.url + path, headers=headers, json={})
            assert resp.status_code == 401, (method, path, headers)
            assert resp.json()["error"]["code"] == "invalid_admin_key"
    # Nothing was revoked or rotated by those attempts.
    assert chat(admin_gateway, admin_gateway.key("chatbot", "prod")) == 200


def test_admin_api_is_disabled_without_a_configured_key(gateway: RunningGateway) -> None:
    for method, path in ALL_ROUTES:
        resp = httpx.request(
            method, gateway.url + path, headers={"x-admin-key": "anything"}, json={}
        )
        assert resp.status_code == 403, (method, path)
        error = resp.json()["error"]
        assert error["code"] == "admin_api_disabled" and "TEAMGATE_ADMIN_KEY" in error["message"]


def test_x_admin_key_header_works(admin_gateway: RunningGateway) -> None:
    resp = httpx.get(admin_gateway.url + "/admin/budget", headers={"x-admin-key": ADMIN_KEY})
    assert resp.status_code == 200


def test_usage_matches_ledger(admin_gateway: RunningGateway) -> None:
    traffic(admin_gateway)
    with admin(admin_gateway) as client:
        resp = client.get("/admin/usage", params={"from": "0", "group_by": "team,model"})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        by_day = client.get("/admin/usage", params={"from": "0", "group_by": "day"}).json()
    records = flushed_records(admin_gateway)
    want: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in records:
        acc = want[(r.team, r.model_served or r.model_requested)]
        acc[0] += 1
        acc[1] += r.cost_pusd
        acc[2] += r.prompt_tokens
    got = {
        (g["team"], g["model"]): [g["requests"], g["cost_pusd"], g["prompt_tokens"]]
        for g in body["groups"]
    }
    assert got == dict(want)
    assert body["total"]["cost_pusd"] == sum(r.cost_pusd for r in records)
    assert sum(g["requests"] for g in by_day["groups"]) == len(records)


def test_usage_rejects_bad_parameters(admin_gateway: RunningGateway) -> None:
    with admin(admin_gateway) as client:
        for params in ({"group_by": "colour"}, {"from": "yesterday"}, {"from": "10", "to": "5"}):
            resp = client.get("/admin/usage", params=params)
            assert resp.status_code == 400
            assert resp.json()["error"]["type"] == "invalid_request_error"


def test_reports_as_json(admin_gateway: RunningGateway) -> None:
    traffic(admin_gateway)
    with admin(admin_gateway) as client:
        monthly = client.get("/admin/reports/monthly", params={"by": "key"}).json()
        weekly = client.get("/admin/reports/weekly", params={"week": "2026-W47"})
        bad = client.get("/admin/reports/weekly", params={"week": "47"})
    assert weekly.status_code == 200 and weekly.json()["period"] == "2026-W47"
    assert bad.status_code == 400
    records = flushed_records(admin_gateway)
    chatbot = next(t for t in monthly["teams"] if t["team"] == "chatbot")
    assert chatbot["cost_pusd"] == sum(r.cost_pusd for r in records if r.team == "chatbot")
    assert {b["value"] for b in monthly["breakdown"]} >= {"chatbot-prod-test"}


def test_key_lifecycle(admin_gateway: RunningGateway) -> None:
    with admin(admin_gateway) as client:
        made = client.post(
            "/admin/keys", json={"team": "analytics", "environment": "prod", "purpose": "web"}
        )
        assert made.status_code == 201, made.text
        secret = made.json()["key"]
        assert secret.startswith("tg_") and made.json()["name"] == "analytics-prod-web"
        assert chat(admin_gateway, secret) == 200
        again = client.post(
            "/admin/keys", json={"team": "analytics", "environment": "prod", "purpose": "web"}
        )
        assert again.status_code == 409
        assert (
            client.post(
                "/admin/keys", json={"team": "nope", "environment": "prod", "purpose": "x"}
            ).status_code
            == 400
        )
        listed = client.get("/admin/keys").json()["keys"]
        assert "analytics-prod-web" in {k["name"] for k in listed}
        assert secret not in str(listed)
        rotated = client.post("/admin/keys/analytics-prod-web/rotate", json={"grace": "1h"})
        assert rotated.status_code == 200, rotated.text
        new_secret = rotated.json()["new"]["key"]
        assert chat(admin_gateway, new_secret) == 200
        assert chat(admin_gateway, secret) == 200  # still in its grace period
        assert rotated.json()["old"]["expires_at"] is not None
        # One rotation semantics with the CLI: the successor takes the name, the old
        # key is NAME@rotated-<time>, in-grace, for 7 days by default.
        assert rotated.json()["new"]["name"] == "analytics-prod-web"
        assert rotated.json()["old"]["name"].startswith("analytics-prod-web@rotated-")
        assert rotated.json()["old"]["state"] == "in-grace"
        now_rotated = client.post("/admin/keys/analytics-prod-web/rotate")
        assert now_rotated.status_code == 200
        assert now_rotated.json()["new"]["name"] == "analytics-prod-web"
        old = now_rotated.json()["old"]
        assert old["name"] != rotated.json()["old"]["name"] and old["state"] == "in-grace"
        days = (
            datetime.fromisoformat(old["expires_at"]) - datetime.fromisoformat(old["created_at"])
        ).total_seconds() / 86400
        assert 6.99 < days < 7.01  # the default grace
        assert chat(admin_gateway, now_rotated.json()["new"]["key"]) == 200
        assert chat(admin_gateway, new_secret) == 200  # in its grace period
        revoked = client.post(f"/admin/keys/{old['name']}/revoke")
        assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
        assert chat(admin_gateway, new_secret) == 401
        assert client.post("/admin/keys/nobody/revoke").status_code == 404
        assert client.post("/admin/keys/nobody/rotate").status_code == 404


def test_upstream_status_shows_no_secret(admin_gateway: RunningGateway) -> None:
    assert chat(admin_gateway, admin_gateway.key("chatbot", "prod")) == 200
    with admin(admin_gateway) as client:
        resp = client.get("/admin/upstream")
    text = resp.text
    for secret in UPSTREAM_SECRETS.values():
        assert secret not in text
    projects = {p["project"]: p for p in resp.json()["projects"]}
    key = projects["chatbot-prod"]["keys"][0]
    assert key["name"] == "chatbot-prod-2026-04" and key["requests"] == 1
    assert key["last_used"] is not None and key["state"] == "active"


def test_budget_and_reload(admin_gateway: RunningGateway, tmp_path: object) -> None:
    assert chat(admin_gateway, admin_gateway.key("chatbot", "prod")) == 200
    with admin(admin_gateway) as client:
        budget = client.get("/admin/budget").json()
        scopes = {s["scope"]: s for s in budget["scopes"]}
        assert scopes["team:chatbot"]["budget_usd"] == "200.000000000000"
        assert scopes["team:chatbot"]["settled_pusd"] > 0
        assert scopes["org"]["budget_pusd"] == 1000 * 10**12
        # The test settings came from a dict, not a file: reload says what went wrong.
        resp = client.post("/admin/reload")
        assert resp.status_code in (200, 400)
        if resp.status_code == 400:
            assert resp.json()["error"]["code"] == "invalid_config"


def test_unknown_admin_path_and_method(admin_gateway: RunningGateway) -> None:
    with admin(admin_gateway) as client:
        assert client.get("/admin/nothing").status_code == 404
        assert client.delete("/admin/keys").status_code == 405
        assert client.post("/admin/keys", content=b"[1]").status_code == 400


@pytest.mark.parametrize("path", ["/admin/openapi.json"])
def test_openapi_lists_every_route(admin_gateway: RunningGateway, path: str) -> None:
    with admin(admin_gateway) as client:
        doc = client.get(path).json()
    assert doc["openapi"] == "3.1.0"
    for route in ROUTES:
        op = doc["paths"][route.path][route.method.lower()]
        assert str(route.status) in op["responses"] and "401" in op["responses"]
