"""The /_sim control routes, for a simulator in another process."""

from __future__ import annotations

import httpx

from teamgate.simulator import Simulator

from .sample import CHAT, KEY, chat_body


def test_revoke_and_add_over_http(client: httpx.Client) -> None:
    assert client.post("/_sim/keys/revoke", json={"key": KEY}).json() == {"ok": True}
    assert client.post(CHAT, json=chat_body()).status_code == 401
    assert client.post("/_sim/keys/add", json={"key": KEY}).status_code == 200
    assert client.post(CHAT, json=chat_body()).status_code == 200


def test_push_faults_over_http(client: httpx.Client, sim: Simulator) -> None:
    response = client.post("/_sim/faults", json={"key": None, "specs": ["503", "429"]})
    assert response.status_code == 200
    assert [client.post(CHAT, json=chat_body()).status_code for _ in range(3)] == [503, 429, 200]
    response = client.post("/_sim/faults", json={"key": KEY, "specs": ["401"]})
    assert response.status_code == 200
    assert sim.faults.pending(KEY) == 1


def test_bad_control_requests_are_400(client: httpx.Client) -> None:
    assert client.post("/_sim/faults", json={"key": None, "specs": ["boom"]}).status_code == 400
    assert client.post("/_sim/faults", json={"specs": "500"}).status_code == 400
    assert client.post("/_sim/keys/revoke", json={"key": ""}).status_code == 400
    assert client.post("/_sim/keys/add", content=b"[").status_code == 400
    assert client.post("/_sim/nothing", json={}).status_code == 404


def test_stats_over_http(client: httpx.Client) -> None:
    client.post(CHAT, json=chat_body())
    stats = client.get("/_sim/stats").json()
    assert stats["requests"] == 1
    assert stats["keys"]["gsk_…0001"]["requests"] == 1
    assert stats["keys"]["gsk_…0001"]["prompt_tokens"] == 9
    assert KEY not in str(stats)
