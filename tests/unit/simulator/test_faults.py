"""Each fault spec does what it says, chosen by header, scripted queue or default."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest

from teamgate.simulator import Simulator, SimulatorConfig

from .sample import CHAT, KEY, MODEL, OTHER_KEY, chat_body, sse_payloads


@pytest.fixture
def uvicorn_errors() -> Iterator[list[logging.LogRecord]]:
    """ERROR records uvicorn logs (it does not propagate to the root logger)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def fault(spec: str) -> dict[str, str]:
    return {"x-sim-fault": spec}


def test_429_has_groqs_message_and_retry_after(client: httpx.Client, sim: Simulator) -> None:
    response = client.post(CHAT, json=chat_body(), headers=fault("429;retry_after=60"))
    assert response.status_code == 429
    assert response.headers["retry-after"] == "60"
    error = response.json()["error"]
    assert error["type"] == "requests"
    assert error["code"] == "rate_limit_exceeded"
    assert error["message"].startswith(
        f"Rate limit reached for model `{MODEL}` in organization `org_sim` service tier "
        "`on_demand` on requests per minute (RPM): Limit 30, Used 30, Requested 1. "
        "Please try again in 60s."
    )
    assert sim.state.billed(KEY) == (0, 0)
    assert sim.state.requests(KEY)[0].fault == "429;retry_after=60"
    assert sim.state.requests(KEY)[0].status == 429


def test_429_tokens_type(client: httpx.Client) -> None:
    body = chat_body(max_tokens=100)
    response = client.post(CHAT, json=body, headers=fault("429;type=tokens;retry_after=2.5"))
    assert response.headers["retry-after"] == "3"
    error = response.json()["error"]
    assert error["type"] == "tokens"
    assert "tokens per minute (TPM): Limit 6000, Used 6000, Requested 109." in error["message"]
    assert "Please try again in 2.5s." in error["message"]


@pytest.mark.parametrize(
    ("spec", "status", "code"),
    [
        ("401", 401, "invalid_api_key"),
        ("413", 413, "rate_limit_exceeded"),
        ("498", 498, "capacity_exceeded"),
        ("500", 500, "internal_server_error"),
        ("502", 502, "bad_gateway"),
        ("503", 503, "service_unavailable"),
        ("422", 422, "unprocessable_entity"),
        ("418", 418, "simulated_error"),
    ],
)
def test_error_status_faults_are_groq_shaped(
    client: httpx.Client, sim: Simulator, spec: str, status: int, code: str
) -> None:
    response = client.post(CHAT, json=chat_body(), headers=fault(spec))
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == code
    assert sim.state.billed(KEY) == (0, 0)
    assert sim.state.successes(KEY) == 0


def test_413_names_prompt_plus_cap(client: httpx.Client) -> None:
    response = client.post(CHAT, json=chat_body(max_completion_tokens=10000), headers=fault("413"))
    assert "Limit 6000, Requested 10009," in response.json()["error"]["message"]


def test_plain_text_503(client: httpx.Client) -> None:
    response = client.post(CHAT, json=chat_body(), headers=fault("503;plain"))
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "503 Service Unavailable\n"


def test_latency_delays_the_answer(client: httpx.Client) -> None:
    started = time.monotonic()
    response = client.post(CHAT, json=chat_body(), headers=fault("latency;s=0.15"))
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.15


def test_latency_combined_with_an_error(client: httpx.Client) -> None:
    started = time.monotonic()
    response = client.post(CHAT, json=chat_body(), headers=fault("latency;s=0.1,500"))
    assert response.status_code == 500
    assert time.monotonic() - started >= 0.1


def test_stream_break_cuts_after_n_content_chunks(
    client: httpx.Client, sim: Simulator, uvicorn_errors: list[logging.LogRecord]
) -> None:
    received: list[bytes] = []
    headers = fault("stream_break;after=2")
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", CHAT, json=chat_body(stream=True), headers=headers) as response,
    ):
        assert response.status_code == 200
        for piece in response.iter_bytes():
            received.append(piece)
    payloads = sse_payloads(b"".join(received).decode())
    assert len(payloads) == 3  # role chunk + 2 content chunks
    assert "[DONE]" not in payloads
    assert orjson.loads(payloads[-1])["choices"][0]["delta"]["content"] == " tok tok tok tok"
    assert sim.state.billed(KEY) == (0, 0)
    assert sim.state.in_flight() == 0
    assert not uvicorn_errors
    assert client.post(CHAT, json=chat_body()).status_code == 200


def test_stream_break_on_non_streaming_request_cuts_the_body(client: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(CHAT, json=chat_body(), headers=fault("stream_break"))


def test_stream_error_sends_an_error_event(client: httpx.Client, sim: Simulator) -> None:
    response = client.post(CHAT, json=chat_body(stream=True), headers=fault("stream_error;after=1"))
    assert response.status_code == 200
    payloads = sse_payloads(response.text)
    assert len(payloads) == 3
    assert orjson.loads(payloads[-1])["error"]["type"] == "internal_server_error"
    assert sim.state.billed(KEY) == (0, 0)


def test_stream_no_usage(client: httpx.Client, sim: Simulator) -> None:
    body = chat_body(stream=True, stream_options={"include_usage": True})
    response = client.post(CHAT, json=body, headers=fault("stream_no_usage"))
    payloads = sse_payloads(response.text)
    assert payloads[-1] == "[DONE]"
    chunks = [orjson.loads(p) for p in payloads[:-1]]
    assert all("usage" not in c and "usage" not in c.get("x_groq", {}) for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert sim.state.billed(KEY) == (9, 16)  # Groq served it, so it bills


def test_malformed_is_200_with_invalid_json(client: httpx.Client, sim: Simulator) -> None:
    response = client.post(CHAT, json=chat_body(), headers=fault("malformed"))
    assert response.status_code == 200
    with pytest.raises(ValueError):
        orjson.loads(response.content)
    assert sim.state.billed(KEY) == (0, 0)


def test_reset_before_any_byte(
    client: httpx.Client, sim: Simulator, uvicorn_errors: list[logging.LogRecord]
) -> None:
    with pytest.raises(httpx.ReadError):  # ECONNRESET: a TCP RST, not an HTTP answer
        client.post(CHAT, json=chat_body(), headers=fault("reset"))
    assert not uvicorn_errors
    assert sim.state.in_flight() == 0
    assert client.post(CHAT, json=chat_body()).status_code == 200


def test_close_before_any_byte(client: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        client.post(CHAT, json=chat_body(), headers=fault("close"))


def test_invalid_fault_header_is_400(client: httpx.Client) -> None:
    response = client.post(CHAT, json=chat_body(), headers=fault("explode"))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_fault_spec"


def test_fault_header_on_models(client: httpx.Client) -> None:
    assert client.get("/openai/v1/models", headers=fault("503")).status_code == 503
    assert client.get("/openai/v1/models").status_code == 200


def test_pushed_faults_are_consumed_in_order(client: httpx.Client, sim: Simulator) -> None:
    sim.push_faults(KEY, "429;retry_after=1", "500")
    statuses = [client.post(CHAT, json=chat_body()).status_code for _ in range(3)]
    assert statuses == [429, 500, 200]
    assert sim.faults.pending(KEY) == 0


def test_key_queue_before_any_key_queue(client: httpx.Client, sim: Simulator) -> None:
    sim.push_faults(None, "503")
    sim.push_faults(OTHER_KEY, "429")
    other = {"authorization": f"Bearer {OTHER_KEY}"}
    assert client.post(CHAT, json=chat_body(), headers=other).status_code == 429
    assert client.post(CHAT, json=chat_body(), headers=other).status_code == 503
    assert client.post(CHAT, json=chat_body()).status_code == 200


def test_header_wins_over_queue(client: httpx.Client, sim: Simulator) -> None:
    sim.push_faults(KEY, "500")
    assert client.post(CHAT, json=chat_body(), headers=fault("ok")).status_code == 200
    assert client.post(CHAT, json=chat_body()).status_code == 500


def test_models_requests_do_not_consume_queued_faults(client: httpx.Client, sim: Simulator) -> None:
    sim.push_faults(KEY, "500")
    assert client.get("/openai/v1/models").status_code == 200
    assert client.post(CHAT, json=chat_body()).status_code == 500


def test_default_fault(start_simulator) -> None:  # type: ignore[no-untyped-def]
    _, url = start_simulator(SimulatorConfig(default_fault="500"))
    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {KEY}"}) as http:
        assert http.post(CHAT, json=chat_body()).status_code == 500
        assert http.post(CHAT, json=chat_body(), headers=fault("ok")).status_code == 200


def test_revoked_key_gets_401_until_added_back(client: httpx.Client, sim: Simulator) -> None:
    assert client.post(CHAT, json=chat_body()).status_code == 200
    sim.revoke_key(KEY)
    response = client.post(CHAT, json=chat_body())
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert client.get("/openai/v1/models").status_code == 401
    sim.add_key(KEY)
    assert client.post(CHAT, json=chat_body()).status_code == 200


def test_fixed_key_set(start_simulator) -> None:  # type: ignore[no-untyped-def]
    sim, url = start_simulator(SimulatorConfig(keys={"gsk_only"}))
    with httpx.Client(base_url=url) as http:

        def status(key: str) -> int:
            headers = {"authorization": f"Bearer {key}"}
            return http.post(CHAT, json=chat_body(), headers=headers).status_code

        assert status("gsk_only") == 200
        assert status("gsk_other") == 401
        sim.add_key("custom-key")
        assert status("custom-key") == 200
        assert http.post(CHAT, json=chat_body()).status_code == 401  # no Authorization


def test_chunk_latency_spaces_out_stream_chunks(client: httpx.Client) -> None:
    started = time.monotonic()
    response = client.post(
        CHAT, json=chat_body(stream=True), headers=fault("latency;s=0;chunk_s=0.03")
    )
    assert response.text.endswith("data: [DONE]\n\n")
    assert time.monotonic() - started >= 4 * 0.03  # 16 tokens in 4 chunks
