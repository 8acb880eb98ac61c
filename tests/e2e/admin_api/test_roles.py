"""The role matrix: every admin API operation and dashboard action x {admin, team admin of
chatbot, team admin of research, viewer of chatbot, no credential}: allowed or denied as the
table says, and a team admin or viewer never sees another team's data in any answer."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from teamgate.admin.routes import ROUTES
from teamgate.http.serving import ServerThread
from teamgate.simulator import Simulator, create_simulator
from tests.conftest import RunningGateway
from tests.support.admin_gateway import ADMIN_KEY, admin, chat, start_admin_gateway, traffic
from tests.support.dashboard_login import dashboard_session

ROLES = ("admin", "lead", "other", "viewer", "none")
"""lead: team admin of chatbot; other: team admin of research; viewer: viewer of chatbot."""

# operation -> (method, path, body), each aimed at team chatbot where it names a team;
# {key} is a fresh live chatbot key per call
CALLS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "getUsage": ("GET", "/admin/usage?group_by=team,key,model", None),
    "getWeeklyReport": ("GET", "/admin/reports/weekly", None),
    "getMonthlyReport": ("GET", "/admin/reports/monthly", None),
    "listKeys": ("GET", "/admin/keys?include_revoked=true", None),
    "createKey": ("POST", "/admin/keys", {"team": "chatbot", "environment": "prod"}),
    "revokeKey": ("POST", "/admin/keys/{key}/revoke", None),
    "rotateKey": ("POST", "/admin/keys/{key}/rotate", {}),
    "getUpstream": ("GET", "/admin/upstream", None),
    "reload": ("POST", "/admin/reload", None),
    "getBudget": ("GET", "/admin/budget", None),
    "getOverview": ("GET", "/admin/overview", None),
    "getAudit": ("GET", "/admin/audit", None),
    "listPauses": ("GET", "/admin/pauses", None),
    "pauseScope": ("POST", "/admin/pauses", {"scope": "env:chatbot/staging", "reason": "test"}),
    "resumeScope": ("POST", "/admin/pauses/resume", {"scope": "env:chatbot/staging"}),
    "openapi": ("GET", "/admin/openapi.json", None),
}

# operation -> status for (admin, lead, other, viewer, none)
EXPECTED: dict[str, tuple[int, int, int, int, int]] = {
    "getUsage": (200, 200, 200, 200, 401),
    "getWeeklyReport": (200, 403, 403, 403, 401),
    "getMonthlyReport": (200, 403, 403, 403, 401),
    "listKeys": (200, 200, 200, 200, 401),
    "createKey": (201, 201, 403, 403, 401),
    "revokeKey": (200, 200, 404, 403, 401),  # another team's key: as if missing
    "rotateKey": (200, 200, 404, 403, 401),
    "getUpstream": (200, 403, 403, 403, 401),
    "reload": (400, 403, 403, 403, 401),  # admin: past the role check (no config file here)
    "getBudget": (200, 200, 200, 200, 401),
    "getOverview": (200, 403, 403, 403, 401),
    "getAudit": (200, 403, 403, 403, 401),
    "listPauses": (200, 200, 200, 200, 401),
    # pausing chatbot/staging: each call pauses it again first, so a resume finds a pause
    "pauseScope": (201, 201, 403, 403, 401),
    "resumeScope": (200, 200, 403, 403, 401),
    "openapi": (200, 200, 200, 200, 401),
}

DASHBOARD_API = ("overview", "teams", "keys", "models", "requests", "attribution")
# scope -> status for (admin, lead, other, viewer, none)
DASHBOARD_EXPECTED: dict[str, tuple[int, int, int, int, int]] = {
    "org": (200, 403, 403, 403, 401),
    "team:chatbot": (200, 200, 403, 200, 401),
    "team:research": (200, 403, 200, 403, 401),
}

OTHER_TEAMS = {"lead": ("research", "analytics"), "viewer": ("research", "analytics"),
               "other": ("chatbot", "analytics")}  # fmt: skip


@pytest.fixture(scope="module")
def setup(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningGateway, dict[str, str]]]:
    sim: Simulator = create_simulator()
    with ServerThread(sim.app) as url:
        sim.url = url  # type: ignore[attr-defined]
        tmp: Path = tmp_path_factory.mktemp("roles")
        for gw in start_admin_gateway(sim, tmp):
            traffic(gw)
            creds = {"admin": ADMIN_KEY, "none": ""}
            with admin(gw) as client:
                for role, team, kind in (
                    ("lead", "chatbot", "team-admin"),
                    ("other", "research", "team-admin"),
                    ("viewer", "chatbot", "viewer"),
                ):
                    resp = client.post(
                        "/admin/keys", json={"team": team, "purpose": role, "role": kind}
                    )
                    assert resp.status_code == 201, resp.text
                    assert resp.json()["key"].startswith("tga_")
                    assert resp.json()["role"] == kind
                    creds[role] = resp.json()["key"]
            yield gw, creds


_fresh = itertools.count()
ADMIN_HEADERS = {"authorization": f"Bearer {ADMIN_KEY}"}


def _call(gw: RunningGateway, op: str, credential: str) -> httpx.Response:
    method, path, body = CALLS[op]
    if "{key}" in path:
        name = f"chatbot-prod-m{next(_fresh)}"
        gw.add_key("chatbot", "prod", name.rsplit("-", 1)[1])
        path = path.replace("{key}", name)
    if op == "createKey":
        body = {**(body or {}), "purpose": f"c{next(_fresh)}"}
    if op == "resumeScope":  # something to resume, whoever asks
        pause = {"scope": "env:chatbot/staging", "reason": "to resume"}
        assert (
            httpx.post(gw.url + "/admin/pauses", json=pause, headers=ADMIN_HEADERS).status_code
            == 201
        )
    headers = {"authorization": f"Bearer {credential}"} if credential else {}
    return httpx.request(method, gw.url + path, json=body, headers=headers, timeout=30)


def test_every_operation_is_in_the_matrix() -> None:
    assert {r.operation_id for r in ROUTES} | {"openapi"} == set(EXPECTED) == set(CALLS)


@pytest.mark.parametrize(("op", "role"), list(itertools.product(EXPECTED, ROLES)))
def test_admin_api_role_matrix(
    setup: tuple[RunningGateway, dict[str, str]], op: str, role: str
) -> None:
    gw, creds = setup
    resp = _call(gw, op, creds[role])
    assert resp.status_code == EXPECTED[op][ROLES.index(role)], resp.text
    if resp.status_code < 300 and role in OTHER_TEAMS:
        for team in OTHER_TEAMS[role]:
            assert not re.search(rf"\b{team}\b", resp.text), f"{role} saw {team}: {resp.text}"
    if resp.status_code == 403:
        assert resp.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize("role", ROLES)
def test_dashboard_role_matrix(setup: tuple[RunningGateway, dict[str, str]], role: str) -> None:
    gw, creds = setup
    client = dashboard_session(gw, creds[role])
    try:
        page = client.get("/dashboard")
        if role == "none":
            assert page.status_code == 303
        else:
            assert page.status_code == 200
            assert ("<option value=org>" in page.text) == (role == "admin")
        for scope, expected in DASHBOARD_EXPECTED.items():
            for name in DASHBOARD_API:
                resp = client.get(f"/dashboard/api/{name}", params={"scope": scope})
                assert resp.status_code == expected[ROLES.index(role)], (scope, name, resp.text)
                if resp.status_code == 200 and role in OTHER_TEAMS:
                    for team in OTHER_TEAMS[role]:
                        assert not re.search(rf"\b{team}\b", resp.text), (name, team)
        if role in OTHER_TEAMS:  # the page offers only the principal's own team
            for team in OTHER_TEAMS[role]:
                assert f"team:{team}" not in page.text
    finally:
        client.close()


def test_credentials_are_not_proxy_keys_and_revocation_holds(
    setup: tuple[RunningGateway, dict[str, str]],
) -> None:
    gw, creds = setup
    assert chat(gw, creds["lead"]) == 401  # a tga_ credential never reaches Groq
    with admin(gw) as client:
        made = client.post(
            "/admin/keys", json={"team": "chatbot", "purpose": "gone", "role": "team-admin"}
        ).json()
        headers = {"authorization": f"Bearer {made['key']}"}
        assert httpx.get(gw.url + "/admin/keys", headers=headers).status_code == 200
        browser = dashboard_session(gw, made["key"])  # a dashboard session opened with it
        try:
            assert browser.get("/dashboard").status_code == 200
            assert client.post(f"/admin/keys/{made['name']}/revoke").status_code == 200
            assert browser.get("/dashboard").status_code == 303  # ended with the credential
            assert browser.get("/dashboard/api/keys?scope=team:chatbot").status_code == 401
        finally:
            browser.close()
    assert httpx.get(gw.url + "/admin/keys", headers=headers).status_code == 401
    # a team admin may not issue credentials, even for its own team
    lead = {"authorization": f"Bearer {creds['lead']}"}
    resp = httpx.post(
        gw.url + "/admin/keys",
        json={"team": "chatbot", "purpose": "escalate", "role": "team-admin"},
        headers=lead,
    )
    assert resp.status_code == 403


def test_openapi_marks_the_role_of_every_operation(
    setup: tuple[RunningGateway, dict[str, str]],
) -> None:
    gw, _ = setup
    with admin(gw) as client:
        doc = client.get("/admin/openapi.json").json()
    ops = {op["operationId"]: op for item in doc["paths"].values() for op in item.values()}
    for op_id, statuses in EXPECTED.items():
        if op_id == "openapi":
            continue
        marked = set(ops[op_id]["x-teamgate-roles"])
        assert ("team-admin" in marked) == (statuses[1] in (200, 201)), op_id
        assert "admin" in marked
        assert ("viewer" in marked) == (statuses[3] == 200), op_id


def test_an_operation_by_a_team_admin_is_audited_under_its_credential(
    setup: tuple[RunningGateway, dict[str, str]],
) -> None:
    """The audit trail names who acted: a team admin's credential (its name and role),
    not the admin key, and never the secret."""
    gw, creds = setup
    lead = {"authorization": f"Bearer {creds['lead']}"}
    made = httpx.post(
        gw.url + "/admin/keys",
        json={"team": "chatbot", "environment": "prod", "purpose": "audited"},
        headers=lead,
    )
    assert made.status_code == 201, made.text
    with admin(gw) as client:
        entries = client.get("/admin/audit", params={"limit": 50}).json()["entries"]
        names = {k["name"]: k for k in client.get("/admin/keys").json()["keys"]}
    [row] = [
        e for e in entries if e["action"] == "keys.create" and e["target"] == made.json()["name"]
    ]
    [lead_key] = [
        n
        for n, k in names.items()
        if k.get("role") == "team-admin" and n.startswith("chatbot") and "lead" in n
    ]
    assert row["actor"] == f"team-admin:{lead_key}"
    assert "admin-key" not in row["actor"]
    assert creds["lead"] not in str(entries) and ADMIN_KEY not in str(entries)


# The dashboard's actions: the admin API's operations, called with the session cookie and
# its CSRF token (x-csrf-token), as static/actions.js does. {key}: a fresh chatbot key.
DASHBOARD_ACTIONS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "pauseTeam": ("POST", "/admin/pauses", {"scope": "team:chatbot", "reason": "dash"}),
    "pauseEnv": ("POST", "/admin/pauses", {"scope": "env:chatbot/staging", "reason": "dash"}),
    "pauseKey": ("POST", "/admin/pauses", {"scope": "key:{key}", "reason": "dash"}),
    "resume": ("POST", "/admin/pauses/resume", {"scope": "env:chatbot/staging"}),
    "createKey": ("POST", "/admin/keys", {"team": "chatbot", "environment": "prod"}),
    "rotateKey": ("POST", "/admin/keys/{key}/rotate", {}),
    "revokeKey": ("POST", "/admin/keys/{key}/revoke", {}),
    "listPauses": ("GET", "/dashboard/api/pauses?scope=team:chatbot", None),
}
DASHBOARD_ACTION_EXPECTED: dict[str, tuple[int, int, int, int, int]] = {
    "pauseTeam": (201, 201, 403, 403, 401),
    "pauseEnv": (201, 201, 403, 403, 401),
    "pauseKey": (201, 201, 404, 403, 401),  # another team's key: as if missing
    "resume": (200, 200, 403, 403, 401),
    "createKey": (201, 201, 403, 403, 401),
    "rotateKey": (200, 200, 404, 403, 401),
    "revokeKey": (200, 200, 404, 403, 401),
    "listPauses": (200, 200, 403, 200, 401),
}


def _csrf(client: httpx.Client) -> str:
    page = client.get("/dashboard")
    found = re.search(r'name=csrf value="([^"]+)"', page.text)
    return found.group(1) if found else ""


def _dashboard_action(gw: RunningGateway, client: httpx.Client, op: str, csrf: str | None) -> int:
    method, path, body = DASHBOARD_ACTIONS[op]
    if "{key}" in path or "{key}" in str(body):
        name = f"chatbot-prod-d{next(_fresh)}"
        gw.add_key("chatbot", "prod", name.rsplit("-", 1)[1])
        path = path.replace("{key}", name)
        body = {k: v.replace("{key}", name) for k, v in (body or {}).items()}
    if op == "createKey":
        body = {**(body or {}), "purpose": f"d{next(_fresh)}"}
    if op == "resume":
        pause = {"scope": "env:chatbot/staging", "reason": "to resume"}
        made = httpx.post(gw.url + "/admin/pauses", json=pause, headers=ADMIN_HEADERS)
        assert made.status_code == 201
    headers = {} if csrf is None else {"x-csrf-token": csrf}
    resp = client.request(method, path, json=body, headers=headers)
    if op.startswith("pause") and resp.status_code == 201:  # leave chatbot serving
        scope = resp.json()["scope"]
        httpx.post(gw.url + "/admin/pauses/resume", json={"scope": scope}, headers=ADMIN_HEADERS)
    return resp.status_code


@pytest.mark.parametrize("role", ROLES)
def test_dashboard_actions_role_matrix(
    setup: tuple[RunningGateway, dict[str, str]], role: str
) -> None:
    """Each dashboard action x role, through the session: allowed or denied as the admin
    API says; without the session's CSRF token no action is taken, whoever asks."""
    gw, creds = setup
    client = dashboard_session(gw, creds[role])
    try:
        csrf = _csrf(client) if role != "none" else ""
        for op, expected in DASHBOARD_ACTION_EXPECTED.items():
            status = _dashboard_action(gw, client, op, csrf)
            assert status == expected[ROLES.index(role)], (op, role, status)
            if DASHBOARD_ACTIONS[op][0] == "POST":  # no token, or a wrong one: 401
                assert _dashboard_action(gw, client, op, None) == 401, (op, role)
                assert _dashboard_action(gw, client, op, "forged" + csrf) == 401, (op, role)
        if role == "none":
            return
        # what the page offers follows the same Principal
        keys = client.get("/dashboard/api/keys", params={"scope": "team:chatbot"})
        pauses = client.get("/dashboard/api/pauses", params={"scope": "team:chatbot"})
        if role in ("admin", "lead"):
            assert set(pauses.json()["can_pause"]) == {"chatbot"}
            assert set(keys.json()["can_create"]) == {"chatbot"}
            assert all(k["actions"] == ["rotate", "revoke", "pause"] for k in keys.json()["keys"])
        elif role == "viewer":
            assert pauses.json()["can_pause"] == {} and keys.json()["can_create"] == {}
            assert all(k["actions"] == [] for k in keys.json()["keys"])
        else:
            assert keys.status_code == pauses.status_code == 403
    finally:
        client.close()
