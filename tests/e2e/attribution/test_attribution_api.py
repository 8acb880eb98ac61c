"""Attribution in every reader: the admin usage API, the reports, a team's own usage, the
dashboard's "top end users and features" and the OpenAPI document; a team admin
sees its own team only, and every breakdown sums to the total it breaks down."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from teamgate.dashboard.api import TOP_N
from teamgate.simulator import Simulator
from tests.conftest import RunningGateway
from tests.support.admin_gateway import ADMIN_KEY, admin, start_admin_gateway
from tests.support.dashboard_login import dashboard_session

MODEL = "llama-3.1-8b-instant"
CHATBOT_USERS = [f"cb-{i:02d}" for i in range(TOP_N + 4)]  # more than the dashboard's top


def send(gw: RunningGateway, team: str, user: str | None, tags: str | None, **body: Any) -> None:
    headers = {"Authorization": f"Bearer {gw.key(team)}"}
    if tags is not None:
        headers["x-teamgate-tags"] = tags
    model = MODEL if team == "chatbot" else "meta-llama/llama-4-scout-17b-16e-instruct"
    payload: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    if user is not None:
        payload["user"] = user
    resp = httpx.post(
        gw.url + "/openai/v1/chat/completions",
        headers=headers,
        json={**payload, **body},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text


@pytest.fixture(scope="module")
def attributed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    from teamgate.http.serving import ServerThread
    from teamgate.simulator import create_simulator

    sim: Simulator = create_simulator()
    with ServerThread(sim.app) as url:
        sim.url = url  # type: ignore[attr-defined]
        for gw in start_admin_gateway(sim, tmp_path_factory.mktemp("attr")):
            for i, user in enumerate(CHATBOT_USERS):
                send(gw, "chatbot", user, f"feature=f{i % 3},tenant=acme", max_tokens=5 + i)
            send(gw, "chatbot", None, None)  # no end user, no tags
            send(gw, "research", "rs-secret-user", "feature=research-only")
            yield gw


def usage(gw: RunningGateway, credential: str, **params: str) -> httpx.Response:
    return httpx.get(
        gw.url + "/admin/usage",
        params=params,
        headers={"authorization": f"Bearer {credential}"},
        timeout=30,
    )


_leads = itertools.count()


def team_admin(gw: RunningGateway, team: str) -> str:
    with admin(gw) as client:
        purpose = f"lead{next(_leads)}"
        resp = client.post(
            "/admin/keys", json={"team": team, "purpose": purpose, "role": "team-admin"}
        )
        assert resp.status_code == 201, resp.text
        return str(resp.json()["key"])


def test_admin_usage_groups_by_user_and_tag(attributed: RunningGateway) -> None:
    total = usage(attributed, ADMIN_KEY, group_by="team").json()["total"]["cost_pusd"]
    assert total > 0
    for group_by in ("user", "tag:feature", "team,user", "team,tag:tenant", "user,tag:feature"):
        body = usage(attributed, ADMIN_KEY, group_by=group_by).json()
        assert body["group_by"] == group_by.split(",")
        assert sum(g["cost_pusd"] for g in body["groups"]) == total == body["total"]["cost_pusd"]
    users = {g["user"] for g in usage(attributed, ADMIN_KEY, group_by="user").json()["groups"]}
    assert users == {*CHATBOT_USERS, "rs-secret-user", ""}
    features = usage(attributed, ADMIN_KEY, group_by="tag:feature").json()["groups"]
    assert {g["tag:feature"] for g in features} == {"f0", "f1", "f2", "research-only", ""}
    for bad in ("tag:", "tag:Feature", "users", "tag:a,b"):
        resp = usage(attributed, ADMIN_KEY, group_by=bad)
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_parameter"


def test_a_team_admin_reads_only_its_own_teams_end_users(attributed: RunningGateway) -> None:
    lead = team_admin(attributed, "chatbot")
    for group_by in ("user", "tag:feature", "team,user"):
        resp = usage(attributed, lead, group_by=group_by)
        assert resp.status_code == 200, resp.text
        assert "rs-secret-user" not in resp.text and "research" not in resp.text
    body = usage(attributed, lead, group_by="user").json()
    chatbot = usage(attributed, ADMIN_KEY, group_by="team").json()["groups"]
    [mine] = [g for g in chatbot if g["team"] == "chatbot"]
    assert sum(g["cost_pusd"] for g in body["groups"]) == mine["cost_pusd"]


@pytest.mark.parametrize("by", ["user", "tag:feature"])
def test_reports_break_down_by_user_and_tag(attributed: RunningGateway, by: str) -> None:
    with admin(attributed) as client:
        report = client.get("/admin/reports/monthly", params={"by": by}).json()
        assert report["by"] == by
        for team in report["teams"]:
            lines = [b for b in report["breakdown"] if b["team"] == team["team"]]
            assert sum(b["cost_pusd"] for b in lines) == team["cost_pusd"]
        bad = client.get("/admin/reports/monthly", params={"by": "tag:NO"})
        assert bad.status_code == 400 and "tag:KEY" in bad.json()["error"]["message"]


def test_a_team_reads_its_own_breakdown_with_its_key(attributed: RunningGateway) -> None:
    key = attributed.key("chatbot")
    for by, values in (("user", {*CHATBOT_USERS, ""}), ("tag:feature", {"f0", "f1", "f2", ""})):
        resp = httpx.get(
            attributed.url + "/teamgate/v1/usage",
            params={"by": by},
            headers={"authorization": f"Bearer {key}"},
        )
        assert resp.status_code == 200, resp.text
        usage_body = resp.json()["usage"]
        assert usage_body["by"] == by
        lines = usage_body["breakdown"]
        assert {line["value"] for line in lines} == values
        assert sum(line["cost_pusd"] for line in lines) == usage_body["cost_pusd"]
        costs = [line["cost_pusd"] for line in lines]
        assert costs == sorted(costs, reverse=True)  # highest cost first
        assert "rs-secret-user" not in resp.text
    plain = httpx.get(
        attributed.url + "/teamgate/v1/usage", headers={"authorization": f"Bearer {key}"}
    )
    assert "breakdown" not in plain.json()["usage"]
    bad = httpx.get(
        attributed.url + "/teamgate/v1/usage",
        params={"by": "team"},
        headers={"authorization": f"Bearer {key}"},
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_parameter"


def test_dashboard_top_end_users_and_features(attributed: RunningGateway) -> None:
    with admin(attributed) as client:
        org = client.get("/dashboard/api/attribution").json()
        total = client.get("/admin/usage").json()["total"]
        assert org["tag"] == "feature"
        for part in (org["users"], org["tags"]):
            assert len(part["top"]) <= TOP_N
            top = sum(int(t["cost"]["pusd"]) for t in part["top"])
            assert top + int(part["others"]["cost"]["pusd"]) == total["cost_pusd"]
            assert part["total"]["requests"] == total["requests"]
        assert org["users"]["others"]["values"] == len(CHATBOT_USERS) + 2 - TOP_N
        costs = [int(t["cost"]["pusd"]) for t in org["users"]["top"]]
        assert costs == sorted(costs, reverse=True)
        tenant = client.get("/dashboard/api/attribution", params={"tag": "tenant"}).json()
        assert {t["value"] for t in tenant["tags"]["top"]} == {"acme", ""}
        bad = client.get("/dashboard/api/attribution", params={"tag": "Bad Tag"})
        assert bad.status_code == 400
    lead = dashboard_session(attributed, team_admin(attributed, "chatbot"))
    try:
        page = lead.get("/dashboard")
        assert "Top end users and features" in page.text and "id=user-table" in page.text
        assert lead.get("/dashboard/api/attribution").status_code == 403  # the org scope
        other = lead.get("/dashboard/api/attribution", params={"scope": "team:research"})
        assert other.status_code == 403
        mine = lead.get("/dashboard/api/attribution", params={"scope": "team:chatbot"})
        assert mine.status_code == 200
        assert "rs-secret-user" not in mine.text and "research" not in mine.text
        assert {t["team"] for t in mine.json()["users"]["top"]} == {"chatbot"}
    finally:
        lead.close()


def test_openapi_document_accepts_the_attribution_dimensions(attributed: RunningGateway) -> None:
    with admin(attributed) as client:
        doc = client.get("/admin/openapi.json").json()
    params = {
        p["name"]: p["schema"]
        for path in ("/admin/usage", "/admin/reports/monthly")
        for p in doc["paths"][path]["get"].get("parameters", [])
    }
    group_by = re.compile(params["group_by"]["pattern"])
    assert group_by.match("team,user,tag:feature") and not group_by.match("tag:Feature")
    by = re.compile(params["by"]["pattern"])
    assert by.match("tag:feature") and by.match("user") and not by.match("tag:")


def test_request_log_filters_by_end_user_and_tag(attributed: RunningGateway) -> None:
    with admin(attributed) as client:

        def log(**query: str) -> list[dict[str, Any]]:
            resp = client.get("/dashboard/api/requests", params={**query, "limit": "500"})
            assert resp.status_code == 200, resp.text
            return list(resp.json()["requests"])

        [one] = log(user="cb-03")
        assert (one["end_user"], one["tags"]) == ("cb-03", "feature=f0,tenant=acme")
        f1 = log(tag="feature=f1")
        assert f1 and {r["tags"] for r in f1} == {"feature=f1,tenant=acme"}
        assert len(log(tag="tenant")) == len(CHATBOT_USERS)  # a bare key: has the tag
        assert log(tag="feature=nope") == []
        export = client.get("/dashboard/api/requests", params={"format": "csv", "user": "cb-03"})
        assert "end_user" in export.text.splitlines()[0] and "cb-03" in export.text
