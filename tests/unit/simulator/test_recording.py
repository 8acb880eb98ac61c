"""What the simulator records per upstream key, including in-flight peaks under concurrency."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from teamgate.simulator import Simulator, SimulatorConfig

from .sample import CHAT, KEY, MODEL, OTHER_KEY, chat_body


def test_records_requests_per_key(client: httpx.Client, sim: Simulator) -> None:
    client.post(CHAT, json=chat_body("abcd", max_completion_tokens=5, stream=True))
    client.post(
        CHAT, json=chat_body(max_tokens=100), headers={"authorization": f"Bearer {OTHER_KEY}"}
    )
    client.get("/openai/v1/models", headers={"x-team": "chatbot"})
    assert sim.state.keys() == [KEY, OTHER_KEY]
    assert sim.state.request_count(KEY) == 2
    assert sim.state.request_count(OTHER_KEY) == 1
    assert sim.state.request_count() == 3
    first, models = sim.state.requests(KEY)
    assert (first.path, first.method, first.model, first.stream) == (CHAT, "POST", MODEL, True)
    assert (first.max_completion_tokens, first.max_tokens, first.status) == (5, None, 200)
    assert first.headers["authorization"] == f"Bearer {KEY}"
    assert first.body == chat_body("abcd", max_completion_tokens=5, stream=True)
    assert models.path == "/openai/v1/models" and models.headers["x-team"] == "chatbot"
    other = sim.state.requests(OTHER_KEY)[0]
    assert other.max_tokens == 100 and other.max_completion_tokens is None
    assert sim.state.authorizations() == {f"Bearer {KEY}", f"Bearer {OTHER_KEY}"}


def test_billing_counts_only_complete_successes(client: httpx.Client, sim: Simulator) -> None:
    client.post(CHAT, json=chat_body("abcd"))  # 8 + 16
    client.post(CHAT, json=chat_body("abcd", stream=True, max_tokens=3))  # 8 + 3
    client.post(CHAT, json=chat_body(), headers={"x-sim-fault": "500"})
    client.post(CHAT, json={"model": "nope", "messages": [{"role": "user", "content": "x"}]})
    assert sim.state.billed(KEY) == (16, 19)
    assert sim.state.successes(KEY) == 2
    assert [r.status for r in sim.state.requests(KEY)] == [200, 200, 500, 404]


def test_token_counts_are_deterministic(client: httpx.Client) -> None:
    bodies = [client.post(CHAT, json=chat_body("same prompt")).json() for _ in range(3)]
    usages = [{k: v for k, v in b["usage"].items()} for b in bodies]
    assert usages[0] == usages[1] == usages[2]
    assert len({b["id"] for b in bodies}) == 3


def test_recording_is_capped(sim: Simulator) -> None:
    from teamgate.simulator.state import MAX_RECORDED, InFlight

    handles: list[InFlight] = []
    for _ in range(MAX_RECORDED + 5):
        handles.append(sim.state.begin(KEY, f"Bearer {KEY}", None))
    for handle in handles:
        sim.state.finish(handle, 200)
    assert sim.state.request_count(KEY) == MAX_RECORDED + 5
    assert sim.state.in_flight(KEY) == 0


def test_snapshot_shows_fingerprints_not_keys(client: httpx.Client, sim: Simulator) -> None:
    client.post(CHAT, json=chat_body())
    snapshot = sim.state.snapshot()
    assert list(snapshot["keys"]) == ["gsk_…0001"]
    assert KEY not in str(snapshot)
    assert snapshot["keys"]["gsk_…0001"]["completion_tokens"] == 16


async def test_max_in_flight_under_concurrency(sim: Simulator, url: str) -> None:
    headers = {"authorization": f"Bearer {KEY}", "x-sim-fault": "hold"}
    async with httpx.AsyncClient(base_url=url, headers=headers) as http:
        tasks = [asyncio.create_task(http.post(CHAT, json=chat_body())) for _ in range(8)]
        assert await asyncio.to_thread(sim.wait_held, 8)
        assert sim.state.in_flight(KEY) == 8
        assert sim.state.in_flight() == 8
        assert sim.release_held() == 8
        responses = await asyncio.gather(*tasks)
    assert [r.status_code for r in responses] == [200] * 8
    assert sim.state.max_in_flight(KEY) == 8
    assert sim.state.max_in_flight() == 8
    assert sim.state.in_flight() == 0
    assert sim.state.max_in_flight(OTHER_KEY) == 0


async def test_hold_times_out_on_its_own(client: httpx.Client) -> None:
    response = client.post(CHAT, json=chat_body(), headers={"x-sim-fault": "hold;s=0.05"})
    assert response.status_code == 200


def test_fast_mode_counts_without_detail(start_simulator) -> None:  # type: ignore[no-untyped-def]
    sim, url = start_simulator(SimulatorConfig(fast=True))
    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {KEY}"}) as http:
        assert http.post(CHAT, json=chat_body("abcd")).status_code == 200
    assert sim.state.request_count(KEY) == 1
    assert sim.state.requests(KEY) == []
    assert sim.state.billed(KEY) == (8, 16)


@pytest.mark.parametrize("reset_over_http", [False, True])
def test_reset_forgets_everything(
    client: httpx.Client, sim: Simulator, reset_over_http: bool
) -> None:
    sim.revoke_key(KEY)
    sim.push_faults(None, "500")
    client.post(CHAT, json=chat_body())
    if reset_over_http:
        assert client.post("/_sim/reset").json() == {"ok": True}
    else:
        sim.reset()
    assert sim.state.request_count() == 0
    assert client.post(CHAT, json=chat_body()).status_code == 200


async def test_reset_while_requests_are_in_flight(sim: Simulator, url: str) -> None:
    headers = {"authorization": f"Bearer {KEY}", "x-sim-fault": "hold"}
    async with httpx.AsyncClient(base_url=url, headers=headers) as http:
        task = asyncio.create_task(http.post(CHAT, json=chat_body()))
        assert await asyncio.to_thread(sim.wait_held, 1)
        sim.reset()  # also releases the held request
        response = await task
    assert response.status_code == 200
    assert sim.state.in_flight() == 0
    assert sim.state.request_count() == 0
    assert sim.state.billed(KEY) == (0, 0)
