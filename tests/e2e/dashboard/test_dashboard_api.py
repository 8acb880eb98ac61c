"""``/dashboard/api/*``: scope and range in every endpoint, one access check, store figures."""

from __future__ import annotations

import asyncio
import csv
import io
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from teamgate.admin.access import Principal
from teamgate.admin.context import AdminRequest
from teamgate.admin.handlers import get_upstream
from teamgate.admin.keys_api import rotate_key
from teamgate.dashboard.api import ENDPOINTS, answer
from teamgate.http.errors import NotFound, PermissionDenied
from teamgate.runtime import Gateway
from teamgate.simulator import Simulator
from tests.conftest import UPSTREAM_SECRETS, RunningGateway
from tests.support.admin_gateway import (
    ADMIN_KEY,
    admin,
    chat,
    flushed_records,
    start_admin_gateway,
    traffic,
)


@pytest.fixture
def busy(simulator: Simulator, tmp_path: Path) -> Any:
    patch = {"teams": {"analytics": {"on_limit": "reject", "limits": {"rpm": 2}}}}
    for gw in start_admin_gateway(simulator, tmp_path, patch):
        traffic(gw)  # includes a never-allowed model for analytics and research
        for _ in range(3):
            chat(gw, gw.key("analytics"))  # the 2nd and 3rd: team_rate_limit
        yield gw


def get(gw: RunningGateway, name: str, **query: str) -> httpx.Response:
    with admin(gw) as client:
        return client.get(f"/dashboard/api/{name}", params=query)


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_every_endpoint_needs_the_admin_and_takes_scope_and_range(
    busy: RunningGateway, name: str
) -> None:
    assert httpx.get(f"{busy.url}/dashboard/api/{name}").status_code == 401
    wrong = httpx.get(f"{busy.url}/dashboard/api/{name}", headers={"x-admin-key": "nope"})
    assert wrong.status_code == 401
    team_key = httpx.get(
        f"{busy.url}/dashboard/api/{name}",
        headers={"authorization": f"Bearer {busy.key('chatbot', 'prod')}"},
    )
    assert team_key.status_code == 401
    for rng in ("month", "7d", "30d"):
        resp = get(busy, name, scope="team:chatbot", range=rng)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["scope"] == "team:chatbot" and body["range"]["name"] == rng
        teams_seen = {
            row["team"] for rows in body.values() if isinstance(rows, list) for row in rows
            if isinstance(row, dict) and "team" in row
        }  # fmt: skip
        assert teams_seen <= {"chatbot"}
    custom = get(busy, name, range="custom", **{"from": "2026-01-01", "to": "2026-01-08"})
    assert custom.status_code == 200 and custom.json()["range"]["label"] == (
        "2026-01-01 to 2026-01-08"
    )
    for bad in ({"scope": "team:nobody"}, {"scope": "all"}, {"range": "forever"}):
        resp = get(busy, name, **bad)
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_parameter"


def test_teams_split_refusals_by_reason(busy: RunningGateway) -> None:
    records = flushed_records(busy)
    want: dict[str, Counter[str]] = {}
    for r in records:
        if r.refusal:
            want.setdefault(r.team, Counter())[r.refusal] += 1
    got = {t["team"]: t["refusals"] for t in get(busy, "teams").json()["teams"]}
    assert got["analytics"]["team_rate_limit"] == 2
    assert got["analytics"]["model_not_allowed"] == 1
    for team, reasons in want.items():
        assert got[team] == dict(reasons)


def test_keys_view_lists_tg_keys_with_figures_and_flags(busy: RunningGateway) -> None:
    with admin(busy) as client:
        rotated = client.post("/admin/keys/chatbot-staging-test/rotate").json()
    keys = {k["name"]: k for k in get(busy, "keys").json()["keys"]}
    records = flushed_records(busy)
    for name in ("chatbot-prod-test", "analytics-prod-test"):
        assert keys[name]["requests"] == sum(1 for r in records if r.client_key == name)
        assert keys[name]["fingerprint"].startswith("tg_")
    assert keys["analytics-prod-test"]["refusals"] >= 3
    old = keys[rotated["old"]["name"]]
    assert old["state"] == "in-grace" and "in-grace" in old["flags"] and "expiring" in old["flags"]
    assert keys["chatbot-staging-test"]["state"] == "active"


def test_models_leave_out_models_that_never_served(busy: RunningGateway) -> None:
    body = get(busy, "models").json()
    names = {m["model"] for m in body["models"]}
    assert "llama-3.1-8b-instant" in names
    assert "no-such-model" not in names  # refused before Groq: not in the mix
    assert all(d["cost"]["usd"] is not None for d in body["daily"])


def test_request_log_filters_pages_and_exports_csv(busy: RunningGateway) -> None:
    records = flushed_records(busy)
    refused = get(busy, "requests", reason="team_rate_limit").json()["requests"]
    assert len(refused) == 2 and {r["team"] for r in refused} == {"analytics"}
    chatbot = get(busy, "requests", team="chatbot", status="200").json()["requests"]
    assert len(chatbot) == sum(1 for r in records if r.team == "chatbot" and r.status == 200)
    first = get(busy, "requests", limit="2").json()
    assert len(first["requests"]) == 2 and first["next"] is not None
    rest = get(busy, "requests", after=str(first["next"]), limit="500").json()["requests"]
    ids = [r["request_id"] for r in first["requests"] + rest]
    assert sorted(ids) == sorted(r.request_id for r in records)  # every record, once
    with admin(busy) as client:
        export = client.get(
            "/dashboard/api/requests", params={"team": "analytics", "format": "csv"}
        )
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert len(rows) == sum(1 for r in records if r.team == "analytics")
    assert all(r["ts"].endswith("Z") and r["streamed"] in ("true", "false") for r in rows)


def test_one_access_check_filters_every_endpoint(busy: RunningGateway) -> None:
    """A team-scoped principal (the self-service issue's role) sees its team only."""
    flushed_records(busy)
    teams = list(busy.settings.teams)
    lead = Principal.team_admin("lead", ["analytics"], all_teams=teams)

    async def main() -> None:
        gw = Gateway(busy.settings, env=dict(UPSTREAM_SECRETS))  # the same ledger
        await gw.open()
        try:

            async def ask(name: str, **query: str) -> Any:
                return (await answer(gw, lead, name, query)).body

            for name in ENDPOINTS:
                with pytest.raises(PermissionDenied):
                    await ask(name)  # the org scope
                with pytest.raises(PermissionDenied):
                    await ask(name, scope="team:chatbot")
            body = await ask("teams", scope="team:analytics")
            assert [t["team"] for t in body["teams"]] == ["analytics"]
            keys = await ask("keys", scope="team:analytics")
            assert {k["team"] for k in keys["keys"]} == {"analytics"}
            overview = await ask("overview", scope="team:analytics")
            assert "org" not in overview
            log = await ask("requests", scope="team:analytics")
            assert log["requests"] and {r["team"] for r in log["requests"]} == {"analytics"}
            # The admin routes this change touched ask the same principal; another team's
            # key is answered as missing, so its existence does not leak.
            other = AdminRequest(gw, {"name": "chatbot-prod-test"}, principal=lead)
            with pytest.raises(NotFound):
                await rotate_key(other)
            upstream = (await get_upstream(AdminRequest(gw, principal=lead))).body["projects"]
            assert {p["team"] for p in upstream} == {"analytics"}
        finally:
            await gw.close()

    asyncio.run(main())


def test_login_page_and_admin_key_header_both_open_the_api(busy: RunningGateway) -> None:
    ok = httpx.get(f"{busy.url}/dashboard/api/overview", headers={"x-admin-key": ADMIN_KEY})
    assert ok.status_code == 200
    assert {t["team"] for t in ok.json()["teams"]} == set(busy.settings.teams)
    assert ok.json()["org"]["budget"]["usd"] == "1000.000000000000"
