"""The pause switch on the admin API: pause, list, resume; bad input is a clear 400/404."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import RunningGateway
from tests.support.admin_gateway import admin, admin_gateway, chat

__all__ = ["admin_gateway"]  # the fixture


def test_pause_then_resume_an_environment(admin_gateway: RunningGateway) -> None:
    gw = admin_gateway
    prod, staging = gw.key("chatbot", "prod"), gw.key("chatbot", "staging")
    with admin(gw) as client:
        made = client.post(
            "/admin/pauses",
            json={"scope": "env:chatbot/prod", "reason": "runaway job", "until": "2h"},
        )
        assert made.status_code == 201, made.text
        assert made.json()["kind"] == "environment" and made.json()["until"] is not None
        refused = httpx.post(
            gw.url + "/openai/v1/chat/completions",
            headers={"authorization": f"Bearer {prod}"},
            json={"model": "llama-3.1-8b-instant", "messages": [{"role": "user", "content": "x"}]},
        )
        assert refused.status_code == 403
        error = refused.json()["error"]
        assert error["code"] == "scope_paused" and error["reason"] == "runaway job"
        assert chat(gw, staging) == 200  # the other environment serves on
        listed = client.get("/admin/pauses").json()["pauses"]
        assert [p["scope"] for p in listed] == ["env:chatbot/prod"] and listed[0]["active"]
        resumed = client.post("/admin/pauses/resume", json={"scope": "env:chatbot/prod"})
        assert resumed.status_code == 200 and resumed.json()["active"] is False
        assert chat(gw, prod) == 200
        assert client.get("/admin/pauses").json()["pauses"] == []
    records = [r for r in gw.records() if r.refusal == "scope_paused"]
    assert len(records) == 1 and records[0].status == 403 and records[0].cost_pusd == 0


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/admin/pauses", {"scope": "team:chatbot"}, 400, "missing_field"),
        ("/admin/pauses", {"scope": "team:chatbot", "reason": "  "}, 400, "invalid_field"),
        ("/admin/pauses", {"scope": "chatbot", "reason": "r"}, 400, "invalid_field"),
        ("/admin/pauses", {"scope": "team:nobody", "reason": "r"}, 404, "scope_not_found"),
        ("/admin/pauses", {"scope": "key:no-such-key", "reason": "r"}, 404, "scope_not_found"),
        ("/admin/pauses", {"scope": "team:chatbot", "reason": "r", "until": "soon"}, 400,
         "invalid_field"),
        ("/admin/pauses/resume", {"scope": "team:chatbot"}, 404, "not_paused"),
    ],
)  # fmt: skip
def test_bad_pause_requests_are_clear_errors(
    admin_gateway: RunningGateway, path: str, body: dict[str, str], status: int, code: str
) -> None:
    with admin(admin_gateway) as client:
        resp = client.post(path, json=body)
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code


# Every route a client key reaches without being metered: a pause stops these too (a
# leaked key must not list or read the team's files and batches while it is paused).
UNMETERED = [
    ("GET", "/openai/v1/models"),
    ("GET", "/openai/v1/models/llama-3.1-8b-instant"),
    ("GET", "/openai/v1/files"),
    ("GET", "/openai/v1/files/file_nope"),
    ("GET", "/openai/v1/files/file_nope/content"),
    ("DELETE", "/openai/v1/files/file_nope"),
    ("GET", "/openai/v1/batches"),
    ("GET", "/openai/v1/batches/batch_nope"),
    ("POST", "/openai/v1/batches/batch_nope/cancel"),
]


def test_a_pause_stops_the_unmetered_routes_too(admin_gateway: RunningGateway) -> None:
    gw = admin_gateway
    paused = {"authorization": f"Bearer {gw.key('chatbot', 'prod')}"}
    with admin(gw) as client:
        before = {
            r: httpx.request(r[0], gw.url + r[1], headers=paused).status_code for r in UNMETERED
        }
        assert 403 not in before.values(), before
        made = client.post("/admin/pauses", json={"scope": "team:chatbot", "reason": "leaked"})
        assert made.status_code == 201, made.text
        for method, path in UNMETERED:
            resp = httpx.request(method, gw.url + path, headers=paused)
            assert resp.status_code == 403, (method, path, resp.text)
            error = resp.json()["error"]
            assert error["code"] == "scope_paused" and error["reason"] == "leaked", (path, error)
        client.post("/admin/pauses/resume", json={"scope": "team:chatbot"})
        after = {
            r: httpx.request(r[0], gw.url + r[1], headers=paused).status_code for r in UNMETERED
        }
    assert after == before
