"""Faults from Groq, injected through the simulator: what the client gets, what the ledger
records, and that every budget reservation and concurrency slot is released."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from teamgate.app import create_app
from teamgate.http.serving import ServerThread
from teamgate.simulator import Simulator
from tests.conftest import UPSTREAM_SECRETS, RunningGateway, build_settings
from tests.e2e.faults.conftest import ANALYTICS_UPSTREAM, FAULT_PATCH, assert_released, sse_events
from tests.support.chat_checks import assert_groq_error, chat, records_when, wait_until


def test_timeout_before_first_byte_is_504_without_hanging(fgw: RunningGateway) -> None:
    started = time.monotonic()
    resp = chat(fgw, fault="latency;s=1.5")
    elapsed = time.monotonic() - started
    assert_groq_error(resp, 504, "upstream_timeout")
    assert elapsed < 1.4, f"answered after {elapsed:.1f} s; upstream.timeout_s is 0.5 s"
    # Groq received the request and may still run and bill it: charged as if it ran
    # to its cap (the reservation's worst case), marked estimated, never more.
    (rec,) = records_when(fgw, 1)
    assert (rec.status, rec.usage_source) == (504, "estimated")
    prices = fgw.app.gateway.prices
    assert rec.completion_tokens > 0 and rec.prompt_tokens > 0
    assert rec.cost_pusd == prices.cost(rec.model_served, rec.prompt_tokens, rec.completion_tokens)
    assert_released(fgw)
    book = fgw.app.gateway.budget.snapshot()
    assert sum(row.settled_pico for row in book if row.team == rec.team) == rec.cost_pusd


def test_stall_mid_stream_ends_with_an_error_event_and_an_estimate(fgw: RunningGateway) -> None:
    resp = chat(fgw, stream=True, fault="latency;s=0;chunk_s=1.5")
    assert resp.status_code == 200
    events = sse_events(resp.text)
    assert "[DONE]" not in events
    assert events[-1]["error"]["code"] == "stream_interrupted"
    (rec,) = records_when(fgw, 1)
    assert rec.status == 200 and rec.usage_source == "estimated" and rec.cost_pusd > 0
    assert_released(fgw)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def refused_gw(simulator: Simulator, tmp_path: Path) -> Iterator[RunningGateway]:
    settings = build_settings(simulator.url, tmp_path / "ledger.db", FAULT_PATCH)  # type: ignore[attr-defined]
    import dataclasses

    upstream = dataclasses.replace(settings.upstream, base_url=f"http://127.0.0.1:{_closed_port()}")
    settings = dataclasses.replace(settings, upstream=upstream)
    gw = RunningGateway("", settings, create_app(settings, env=UPSTREAM_SECRETS), simulator)
    gw.add_key("analytics", "prod", "test")
    with ServerThread(gw.app) as url:
        gw.url = url
        yield gw


def test_connection_refused_is_502(refused_gw: RunningGateway) -> None:
    error = assert_groq_error(chat(refused_gw), 502, "upstream_unavailable")
    assert "127.0.0.1" not in error["message"]
    (rec,) = records_when(refused_gw, 1)
    assert (rec.status, rec.cost_pusd) == (502, 0)
    assert_released(refused_gw)


@pytest.mark.parametrize("fault", ["reset", "close"])
def test_hang_up_before_the_first_byte_is_502(fgw: RunningGateway, fault: str) -> None:
    assert_groq_error(chat(fgw, fault=fault), 502, "upstream_unavailable")
    (rec,) = records_when(fgw, 1)
    assert (rec.status, rec.cost_pusd) == (502, 0)
    assert_released(fgw)


def test_non_stream_body_cut_in_half_is_502(fgw: RunningGateway) -> None:
    assert_groq_error(chat(fgw, fault="stream_break;after=0"), 502, "upstream_unavailable")
    (rec,) = records_when(fgw, 1)
    assert (rec.status, rec.cost_pusd) == (502, 0)
    assert_released(fgw)


def test_stream_cut_after_first_bytes_charges_a_marked_estimate(fgw: RunningGateway) -> None:
    resp = chat(fgw, stream=True, fault="stream_break;after=2")
    assert resp.status_code == 200
    events = sse_events(resp.text)
    contents = [e for e in events if isinstance(e, dict) and e.get("choices")]
    assert len(contents) >= 2, "the first chunks reached the client"
    assert events[-1]["error"]["code"] == "stream_interrupted"
    assert "[DONE]" not in events
    (rec,) = records_when(fgw, 1)
    assert rec.status == 200 and rec.usage_source == "estimated"
    assert rec.completion_tokens > 0 and rec.cost_pusd > 0
    assert fgw.simulator.state.billed(ANALYTICS_UPSTREAM) == (0, 0)
    assert_released(fgw)


def test_groq_error_event_mid_stream_passes_once_and_is_estimated(fgw: RunningGateway) -> None:
    resp = chat(fgw, stream=True, fault="stream_error;after=2")
    events = sse_events(resp.text)
    errors = [e for e in events if isinstance(e, dict) and "error" in e]
    assert len(errors) == 1, "Groq's own error event, and no second one from teamgate"
    assert errors[0]["error"].get("code") != "stream_interrupted"
    (rec,) = records_when(fgw, 1)
    assert rec.usage_source == "estimated" and rec.cost_pusd > 0
    assert_released(fgw)


def test_stream_without_usage_is_charged_a_marked_estimate(fgw: RunningGateway) -> None:
    resp = chat(fgw, stream=True, fault="stream_no_usage")
    events = sse_events(resp.text)
    assert events[-1] == "[DONE]"
    assert not any(isinstance(e, dict) and "error" in e for e in events)
    (rec,) = records_when(fgw, 1)
    assert rec.status == 200 and rec.usage_source == "estimated"
    assert rec.completion_tokens >= 16  # the simulator's 16 tokens, bounded from above
    assert_released(fgw)


def test_plain_text_5xx_becomes_groq_shaped_json(fgw: RunningGateway) -> None:
    error = assert_groq_error(chat(fgw, fault="503;plain"), 503, "upstream_error")
    assert error["type"] == "internal_server_error"
    assert "503 Service Unavailable" in error["message"]
    (rec,) = records_when(fgw, 1)
    assert (rec.status, rec.cost_pusd) == (503, 0)
    assert_released(fgw)


def test_groq_json_5xx_passes_through_as_sent(fgw: RunningGateway) -> None:
    resp = chat(fgw, fault="500")
    assert resp.status_code == 500
    assert resp.json() == {
        "error": {
            "message": "Internal Server Error",
            "type": "internal_server_error",
            "code": "internal_server_error",
        }
    }
    (rec,) = records_when(fgw, 1)
    assert (rec.status, rec.cost_pusd) == (500, 0)
    assert_released(fgw)


def test_malformed_200_is_relayed_and_charged_a_marked_estimate(fgw: RunningGateway) -> None:
    resp = chat(fgw, fault="malformed")
    assert resp.status_code == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(resp.content)
    (rec,) = records_when(fgw, 1)
    assert rec.usage_source == "estimated" and rec.cost_pusd > 0
    assert rec.completion_tokens == 64  # the worst case: the request's max tokens
    assert_released(fgw)


def test_429_longer_than_the_deadline_reaches_the_client_quickly(fgw: RunningGateway) -> None:
    started = time.monotonic()
    resp = chat(fgw, fault="429;retry_after=60")
    assert time.monotonic() - started < 2.0, "teamgate waited although 60 s > the deadline"
    error = assert_groq_error(resp, 429, "rate_limit_exceeded")
    assert "Please try again in 60s" in error["message"]
    assert resp.headers["retry-after"] == "60"
    (rec,) = records_when(fgw, 1)
    assert (rec.status, rec.cost_pusd) == (429, 0)
    assert_released(fgw)


def test_short_429s_are_retried_and_charged_once(fgw: RunningGateway) -> None:
    fgw.simulator.push_faults(ANALYTICS_UPSTREAM, "429;retry_after=0", "429;retry_after=0")
    resp = chat(fgw)
    assert resp.status_code == 200, resp.text
    assert fgw.simulator.state.request_count(ANALYTICS_UPSTREAM) == 3
    (rec,) = records_when(fgw, 1)
    assert rec.status == 200 and rec.usage_source == "reported" and rec.cost_pusd > 0
    assert_released(fgw)


def test_429_storm_from_many_clients_releases_everything(fgw: RunningGateway) -> None:
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: chat(fgw, fault="429;retry_after=30"), range(16)))
    for resp in answers:
        assert_groq_error(resp, 429, "rate_limit_exceeded")
    records = records_when(fgw, 16)
    assert {(r.status, r.cost_pusd) for r in records} == {(429, 0)}
    assert_released(fgw)
    assert chat(fgw).status_code == 200


def test_498_flex_capacity_passes_through_unbilled(fgw: RunningGateway) -> None:
    error = assert_groq_error(chat(fgw, fault="498"), 498, "capacity_exceeded")
    assert "flex tier" in error["message"]
    (rec,) = records_when(fgw, 1)
    assert (rec.status, rec.cost_pusd) == (498, 0)
    assert_released(fgw)


def test_slow_response_within_the_timeout_is_served(fgw: RunningGateway) -> None:
    resp = chat(fgw, stream=True, fault="latency;s=0.2;chunk_s=0.1")
    assert resp.status_code == 200
    assert sse_events(resp.text)[-1] == "[DONE]"
    (rec,) = records_when(fgw, 1)
    assert rec.usage_source == "reported"
    assert_released(fgw)


def test_the_ledger_charges_nothing_groq_did_not_bill(fgw: RunningGateway) -> None:
    """Across every server-side fault, the ledger's reported charges equal Groq's bill."""
    for fault in ("500", "503;plain", "reset", "498", "429;retry_after=60", "latency;s=1.5"):
        chat(fgw, fault=fault)
    assert chat(fgw).status_code == 200
    records = records_when(fgw, 7)
    reported = [r for r in records if r.cost_pusd and r.usage_source == "reported"]
    estimated = [r for r in records if r.cost_pusd and r.usage_source == "estimated"]
    assert len(reported) == 1
    # The timed-out request (latency 1.5 s, timeout 0.5 s) reached Groq, which finishes
    # and bills it: it is charged its worst case, which covers what Groq billed.
    assert [r.status for r in estimated] == [504]
    wait_until(
        lambda: fgw.simulator.state.billed(ANALYTICS_UPSTREAM)[0] > reported[0].prompt_tokens,
        5.0,
        "the simulator finished the timed-out request",
    )
    billed = fgw.simulator.state.billed(ANALYTICS_UPSTREAM)
    assert billed[0] <= reported[0].prompt_tokens + estimated[0].prompt_tokens
    assert billed[1] <= reported[0].completion_tokens + estimated[0].completion_tokens
    assert_released(fgw)


def test_no_answer_is_a_python_traceback(fgw: RunningGateway) -> None:
    for fault in ("500;plain", "502;plain", "504;plain", "malformed", "reset"):
        resp = chat(fgw, fault=fault)
        assert "Traceback" not in resp.text
        assert resp.status_code != 500 or resp.headers["content-type"] == "application/json"
    httpx.get(fgw.url + "/health").raise_for_status()
