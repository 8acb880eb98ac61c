"""The simulator's bytes: Groq's exact shapes, deterministic token counts, rate-limit headers."""

from __future__ import annotations

import re

import httpx
import orjson
import pytest

from teamgate.simulator import Simulator, SimulatorConfig, completion_text, count_prompt_tokens

from .sample import CHAT, KEY, MODEL, chat_body, sse_payloads

RATE_LIMIT_HEADERS = (
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-tokens",
)
DURATION = re.compile(r"^(\d+h)?(\d+m)?(\d+(\.\d+)?s|\d+ms)$")


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ([{"role": "user", "content": ""}], 7),
        ([{"role": "user", "content": "abcd"}], 8),
        ([{"role": "user", "content": "abcde"}], 9),
        ([{"role": "system", "content": "abcd"}, {"role": "user", "content": "é"}], 13),
        ([{"role": "user", "content": [{"type": "text", "text": "abcdefgh"}]}], 9),
        ([{"role": "assistant", "content": None}], 7),
    ],
)
def test_prompt_tokens_rule(messages: list[dict[str, object]], expected: int) -> None:
    assert count_prompt_tokens(messages) == expected


def test_non_streaming_body_has_groqs_exact_keys(client: httpx.Client) -> None:
    response = client.post(CHAT, json=chat_body("abcdefgh"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == [
        "id",
        "object",
        "created",
        "model",
        "choices",
        "usage",
        "usage_breakdown",
        "system_fingerprint",
        "x_groq",
        "service_tier",
    ]
    assert re.fullmatch(r"chatcmpl-[0-9a-f-]{36}", body["id"])
    assert body["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": completion_text(16)},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert list(body["usage"]) == [
        "queue_time",
        "prompt_tokens",
        "prompt_time",
        "completion_tokens",
        "completion_time",
        "total_tokens",
        "total_time",
    ]
    assert body["usage"]["prompt_tokens"] == 2 + 4 + 3
    assert body["usage"]["total_tokens"] == 9 + 16
    assert body["usage_breakdown"] is None
    assert body["service_tier"] == "on_demand"
    assert body["x_groq"] == {"id": response.headers["x-request-id"]}
    assert re.fullmatch(r"fp_[0-9a-f]{10}", body["system_fingerprint"])


@pytest.mark.parametrize(
    ("fields", "header", "tokens", "finish"),
    [
        ({}, None, 16, "stop"),
        ({"max_completion_tokens": 5}, None, 5, "length"),
        ({"max_tokens": 7}, None, 7, "length"),
        ({"max_tokens": 7, "max_completion_tokens": 9}, None, 9, "length"),
        ({"max_completion_tokens": 16}, None, 16, "stop"),
        ({"max_completion_tokens": 1000}, "40", 40, "stop"),
        ({"max_completion_tokens": 30}, "40", 30, "length"),
        ({}, "0", 0, "stop"),
    ],
)
def test_completion_length_and_finish_reason(
    client: httpx.Client, fields: dict[str, int], header: str | None, tokens: int, finish: str
) -> None:
    headers = {"x-sim-completion-tokens": header} if header else {}
    body = client.post(CHAT, json=chat_body(**fields), headers=headers).json()
    assert body["usage"]["completion_tokens"] == tokens
    assert body["choices"][0]["message"]["content"] == completion_text(tokens)
    assert len(body["choices"][0]["message"]["content"].split()) == tokens
    assert body["choices"][0]["finish_reason"] == finish


def test_stream_events_in_groqs_order(client: httpx.Client) -> None:
    response = client.post(
        CHAT,
        json=chat_body(stream=True, stream_options={"include_usage": True}, max_tokens=10),
    )
    assert response.headers["content-type"] == "text/event-stream"
    assert response.text.endswith("data: [DONE]\n\n")
    payloads = sse_payloads(response.text)
    assert payloads[-1] == "[DONE]"
    chunks = [orjson.loads(p) for p in payloads[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    request_id = response.headers["x-request-id"]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[0]["x_groq"] == {"id": request_id}
    contents = [c["choices"][0]["delta"]["content"] for c in chunks[1:4]]
    assert contents == ["tok tok tok tok", " tok tok tok tok", " tok tok"]
    final, usage_chunk = chunks[4], chunks[5]
    assert final["choices"][0]["finish_reason"] == "length"
    assert final["x_groq"]["id"] == request_id
    assert final["x_groq"]["usage"]["completion_tokens"] == 10
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"] == final["x_groq"]["usage"]
    assert len(chunks) == 6


def test_stream_without_include_usage_has_no_usage_chunk(client: httpx.Client) -> None:
    payloads = sse_payloads(client.post(CHAT, json=chat_body(stream=True)).text)
    chunks = [orjson.loads(p) for p in payloads[:-1]]
    assert all(c["choices"] for c in chunks)
    assert "usage" in chunks[-1]["x_groq"]


def test_chunks_arrive_as_separate_body_messages(client: httpx.Client) -> None:
    with client.stream("POST", CHAT, json=chat_body(stream=True, max_tokens=12)) as response:
        pieces = list(response.iter_raw())
    assert len(pieces) >= 2  # not one buffered body


def test_rate_limit_headers_on_every_response(client: httpx.Client) -> None:
    responses = [
        client.post(CHAT, json=chat_body()),
        client.get("/openai/v1/models"),
        client.post(CHAT, json=chat_body(), headers={"authorization": "Bearer nope"}),
        client.get("/openai/v1/nope"),
    ]
    for response in responses:
        for name in RATE_LIMIT_HEADERS:
            assert name in response.headers, (response.request.url, name)
        assert DURATION.match(response.headers["x-ratelimit-reset-requests"])
        assert DURATION.match(response.headers["x-ratelimit-reset-tokens"])
        assert response.headers["x-request-id"].startswith("req_")
    first = responses[0].headers
    assert first["x-ratelimit-limit-requests"] == "14400"
    assert first["x-ratelimit-limit-tokens"] == "6000"
    assert first["x-ratelimit-remaining-requests"] == "14399"
    assert first["x-ratelimit-remaining-tokens"] == str(6000 - (9 + 16))


def test_rate_limit_headers_drain_with_the_clock(start_simulator) -> None:  # type: ignore[no-untyped-def]
    now = [0.0]
    sim, url = start_simulator(
        SimulatorConfig(ratelimit_limit_tokens=600, completion_tokens=50, clock=lambda: now[0])
    )
    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {KEY}"}) as http:
        first = http.post(CHAT, json=chat_body("abcd")).headers  # 8 + 50 tokens
        second = http.post(CHAT, json=chat_body("abcd")).headers
        now[0] = 60.0
        third = http.post(CHAT, json=chat_body("abcd")).headers
    assert first["x-ratelimit-remaining-tokens"] == "542"
    assert first["x-ratelimit-reset-tokens"] == "5.8s"
    assert second["x-ratelimit-remaining-tokens"] == "484"
    assert second["x-ratelimit-remaining-requests"] == "14398"
    assert second["x-ratelimit-reset-requests"] == "12s"
    assert third["x-ratelimit-remaining-tokens"] == "542"
    assert third["x-ratelimit-remaining-requests"] == "14399"  # 10 requests drained per minute
    assert sim.state.request_count() == 3


@pytest.mark.parametrize(
    ("body", "message_part"),
    [
        (b"{not json", "parse the JSON"),
        (b"[1, 2]", "JSON object"),
        (orjson.dumps({"messages": [{"role": "user", "content": "x"}]}), "'model'"),
        (orjson.dumps({"model": MODEL}), "'messages'"),
        (orjson.dumps(chat_body(max_tokens=0)), "'max_tokens'"),
        (orjson.dumps(chat_body(max_completion_tokens="5")), "'max_completion_tokens'"),
    ],
)
def test_bad_request_bodies_are_400(client: httpx.Client, body: bytes, message_part: str) -> None:
    response = client.post(CHAT, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert message_part in error["message"]


def test_unknown_path_is_groq_404(client: httpx.Client) -> None:
    response = client.get("/openai/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_url"


def test_model_restricted_config(start_simulator) -> None:  # type: ignore[no-untyped-def]
    _, url = start_simulator(SimulatorConfig(models=("only-model",)))
    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {KEY}"}) as http:
        listed = http.get("/openai/v1/models").json()
        assert [m["id"] for m in listed["data"]] == ["only-model"]
        assert listed["object"] == "list"
        assert set(listed["data"][0]) == {
            "id",
            "object",
            "created",
            "owned_by",
            "active",
            "context_window",
            "public_apps",
            "max_completion_tokens",
        }
        assert http.post(CHAT, json=chat_body()).status_code == 404
        good = http.post(CHAT, json={**chat_body(), "model": "only-model"})
        assert good.status_code == 200


def test_simulator_fixture_is_reset_between_tests(sim: Simulator) -> None:
    assert sim.state.request_count() == 0
