"""Rate limits through a running gateway, checked against the simulator's own view."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import groq
import httpx
import openai
import pytest

from teamgate.pricing.tokens import prompt_token_bound
from teamgate.simulator import Simulator
from tests.conftest import UPSTREAM_SECRETS, start_gateway
from tests.support.loadgen import chat_body, send_all

MODEL = "llama-3.1-8b-instant"
ANALYTICS_KEY = UPSTREAM_SECRETS["GROQ_KEY_ANALYTICS_PROD"]


def test_rpm_reject_exactly_60_of_100(simulator: Simulator, tmp_path: Path) -> None:
    patch = {"teams": {"analytics": {"limits": {"rpm": 60}, "on_limit": "reject"}}}
    for gw in start_gateway(simulator, tmp_path, patch):
        key = gw.key("analytics")
        answers = send_all(gw.url, [(key, chat_body(), {})] * 100)
        ok = [a for a in answers if a.status == 200]
        limited = [a for a in answers if a.status == 429]
        assert (len(ok), len(limited)) == (60, 40)
        first = limited[0]
        error = first.json()["error"]
        assert error["code"] == "rate_limit_exceeded" and error["type"] == "requests"
        assert "analytics" in error["message"] and "RPM" in error["message"]
        wait_s = max(float(a.headers["retry-after-ms"]) / 1000 for a in limited[:1])
        assert 0 < wait_s <= float(first.headers["retry-after"])
        assert simulator.state.request_count(ANALYTICS_KEY) == 60
        time.sleep(wait_s)
        (again,) = send_all(gw.url, [(key, chat_body(), {})])
        assert again.status == 200


def test_rpm_queue_all_100_succeed_in_order(simulator: Simulator, tmp_path: Path) -> None:
    """GCRA with rpm 60: 60 at once, then one a second. 40 queued requests take ~40 s."""
    patch = {
        "teams": {"analytics": {"limits": {"rpm": 60, "max_queue_wait_s": 45}, "on_limit": "queue"}}
    }
    for gw in start_gateway(simulator, tmp_path, patch):
        key = gw.key("analytics")
        started = time.monotonic()
        answers = send_all(gw.url, [(key, chat_body(), {})] * 100)
        failed = [(a.status, a.body[:200]) for a in answers if a.status != 200]
        assert failed == []
        ends = sorted(a.ended - started for a in answers)
        # The 61st request cannot start before one emission interval (1 s) has passed,
        # and the 100th not before 40 s; none waited longer than max_queue_wait_s.
        assert ends[59] < 1.0
        assert ends[60] >= 0.95
        assert ends[99] >= 39.0
        assert max(a.ended - a.started for a in answers) <= 45


def test_queue_wait_is_bounded(simulator: Simulator, tmp_path: Path) -> None:
    patch = {
        "teams": {"analytics": {"limits": {"rpm": 2, "max_queue_wait_s": 1}, "on_limit": "queue"}}
    }
    for gw in start_gateway(simulator, tmp_path, patch):
        answers = send_all(gw.url, [(gw.key("analytics"), chat_body(), {})] * 4)
        assert sorted(a.status for a in answers) == [200, 200, 429, 429]
        assert all(a.ended - a.started < 3 for a in answers)


def test_concurrency_5_under_50_clients(simulator: Simulator, tmp_path: Path) -> None:
    patch = {"teams": {"analytics": {"limits": {"concurrency": 5}}}}
    for gw in start_gateway(simulator, tmp_path, patch):
        slow = {"x-sim-fault": "latency;s=0.05"}
        answers = send_all(gw.url, [(gw.key("analytics"), chat_body(), slow)] * 50)
        assert all(a.status == 200 for a in answers)
        assert simulator.state.max_in_flight(ANALYTICS_KEY) == 5


def test_tpm_counts_tokens_then_corrects_to_usage(simulator: Simulator, tmp_path: Path) -> None:
    body = chat_body()
    max_tokens = 2000 - prompt_token_bound(body)  # each request reserves exactly 2,000 tokens
    body["max_completion_tokens"] = max_tokens
    patch = {
        "teams": {
            "research": {"limits": {"tpm": 10000}, "on_limit": "reject"},
        }
    }
    for gw in start_gateway(simulator, tmp_path, patch):
        key = gw.key("research")
        hold = {"x-sim-fault": "hold"}
        with ThreadPoolExecutor(5) as pool:
            held = [pool.submit(send_all, gw.url, [(key, body, hold)]) for _ in range(5)]
            assert simulator.wait_held(5)
            # Five are in flight with 2,000 tokens each: the sixth does not fit the minute.
            (sixth,) = send_all(gw.url, [(key, body, {})])
            assert sixth.status == 429 and sixth.json()["error"]["type"] == "tokens"
            simulator.release_held()
            assert [f.result()[0].status for f in held] == [200] * 5
        # Actual usage was ~30 tokens each: the refunds admit more at once.
        more = send_all(gw.url, [(key, body, {})] * 4)
        assert [a.status for a in more] == [200] * 4


def test_org_limit_holds_across_three_teams(simulator: Simulator, tmp_path: Path) -> None:
    patch = {
        "org": {"limits": {"rpm": 30}},
        "teams": {t: {"on_limit": "reject"} for t in ("chatbot", "analytics", "research")},
    }
    for gw in start_gateway(simulator, tmp_path, patch):
        requests = [(gw.key(t), chat_body(), {}) for t in ("chatbot", "analytics", "research")]
        answers = send_all(gw.url, requests * 20)
        assert len([a for a in answers if a.status == 200]) == 30
        assert simulator.state.request_count() == 30


def test_upstream_429_waited_out_when_short(simulator: Simulator, tmp_path: Path) -> None:
    for gw in start_gateway(simulator, tmp_path):
        simulator.push_faults(ANALYTICS_KEY, "429;retry_after=1")
        started = time.monotonic()
        (answer,) = send_all(gw.url, [(gw.key("analytics"), chat_body(), {})])
        assert answer.status == 200
        assert 0.9 <= time.monotonic() - started < 5
        assert simulator.state.request_count(ANALYTICS_KEY) == 2
        time.sleep(0.2)
        assert [r.status for r in gw.records()] == [200]  # charged once


def test_upstream_429_passed_on_when_long(simulator: Simulator, tmp_path: Path) -> None:
    for gw in start_gateway(simulator, tmp_path):
        simulator.push_faults(ANALYTICS_KEY, "429;retry_after=60")
        started = time.monotonic()
        (answer,) = send_all(gw.url, [(gw.key("analytics"), chat_body(), {})])
        assert answer.status == 429
        assert time.monotonic() - started < 2
        assert answer.headers["retry-after"] == "60"
        assert "organization" in answer.json()["error"]["message"]


@pytest.mark.parametrize("sdk", ["groq", "openai"])
def test_sdks_back_off_on_teamgate_429(simulator: Simulator, tmp_path: Path, sdk: str) -> None:
    patch = {"teams": {"analytics": {"limits": {"rpm": 60}, "on_limit": "reject"}}}
    for gw in start_gateway(simulator, tmp_path, patch):
        key = gw.key("analytics")
        send_all(gw.url, [(key, chat_body(), {})] * 60)  # the minute's burst is spent
        sent: list[httpx.Request] = []
        answers: list[httpx.Response] = []
        hooks = {"request": [sent.append], "response": [answers.append]}
        with httpx.Client(event_hooks=hooks) as http:
            client: groq.Groq | openai.OpenAI
            if sdk == "groq":
                client = groq.Groq(api_key=key, base_url=gw.url, http_client=http)
            else:
                client = openai.OpenAI(
                    api_key=key, base_url=gw.url + "/openai/v1", http_client=http
                )
            started = time.monotonic()
            reply = client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "hi"}]
            )
            assert reply.choices[0].message.content
            assert len(sent) == 2  # one 429, then the retry after retry-after
            waited = time.monotonic() - started
            # The window refills while the burst is sent, so the wait asked for varies with
            # the machine's speed: the SDK must have waited at least what the 429 said.
            assert answers[0].status_code == 429
            h = answers[0].headers  # the SDKs prefer the exact retry-after-ms when given
            retry_after = (
                float(h["retry-after-ms"]) / 1000
                if "retry-after-ms" in h
                else float(h["retry-after"])
            )
            assert retry_after > 0 and waited >= retry_after * 0.9


def test_rate_limit_headers_have_groq_names(simulator: Simulator, tmp_path: Path) -> None:
    patch = {"teams": {"analytics": {"limits": {"rpm": 60, "rpd": 1000, "tpm": 100000}}}}
    for gw in start_gateway(simulator, tmp_path, patch):
        (answer,) = send_all(gw.url, [(gw.key("analytics"), chat_body(), {})])
        h = answer.headers
        assert h["x-ratelimit-limit-requests"] == "1000"
        assert h["x-ratelimit-remaining-requests"] == "999"
        assert h["x-ratelimit-limit-tokens"] == "100000"
        assert int(h["x-ratelimit-remaining-tokens"]) < 100000
        assert h["x-ratelimit-reset-requests"].endswith("s")
        assert h["x-ratelimit-reset-tokens"].endswith("s")


def test_client_that_leaves_the_queue_is_recorded_not_an_error(
    simulator: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    patch = {"teams": {"analytics": {"limits": {"rpm": 1, "max_queue_wait_s": 20}}}}
    for gw in start_gateway(simulator, tmp_path, patch):
        key = gw.key("analytics")
        assert send_all(gw.url, [(key, chat_body(), {})])[0].status == 200
        with pytest.raises(httpx.TimeoutException):  # queued behind the minute's one request
            httpx.post(
                gw.url + "/openai/v1/chat/completions",
                json=chat_body(),
                headers={"authorization": f"Bearer {key}"},
                timeout=0.5,
            )
        deadline = time.monotonic() + 5
        while not [r for r in gw.records() if r.status == 499]:
            assert time.monotonic() < deadline, "the abandoned request was not recorded"
            time.sleep(0.1)
        (gone,) = [r for r in gw.records() if r.status == 499]
        assert gone.refusal == "" and gone.cost_pusd == 0  # an outcome, not a refusal
        assert gw.app.gateway.limiter.queued("analytics") == 0
        assert simulator.state.request_count(ANALYTICS_KEY) == 1
    assert "unhandled error" not in caplog.text
