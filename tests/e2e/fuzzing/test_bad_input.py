"""Bad input, fuzzed (hypothesis) straight into the ASGI app: every answer is a Groq-shaped
4xx (or a 200 for a valid request), never a 500, and nothing policy should stop reaches
the simulator. The budget per property is bounded so the file stays well under a minute."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from teamgate.app import create_app
from teamgate.auth.keys import new_client_key
from teamgate.endpoints.chat import upstream_body
from teamgate.http.serving import ServerThread
from teamgate.ledger import open_store
from teamgate.policy.rules import ChatPlan
from teamgate.simulator import Simulator, SimulatorConfig, create_simulator
from tests.conftest import UPSTREAM_SECRETS, build_settings
from tests.e2e.fuzzing.asgi_harness import Answer, AsgiHarness

ALLOWED = "llama-3.1-8b-instant"  # the only model team analytics may use
CAP = 512  # analytics' max_tokens_per_request
CHAT = "/openai/v1/chat/completions"
FUZZ = settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a bounded run in CI
)


class Rig:
    def __init__(self, call: AsgiHarness, simulator: Simulator, key: str) -> None:
        self.call = call
        self.simulator = simulator
        self.key = key
        self.auth = (b"authorization", f"Bearer {key}".encode())

    def post(self, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> Answer:
        return self.call("POST", CHAT, [self.auth, *(headers or [])], body)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    # Groq's own limits high: the huge bodies would otherwise pause the model (the gateway
    # honours Groq's x-ratelimit-remaining-tokens) and hold the next requests.
    simulator = create_simulator(
        SimulatorConfig(ratelimit_limit_requests=10**9, ratelimit_limit_tokens=10**12)
    )
    with ServerThread(simulator.app) as sim_url:
        db: Path = tmp_path_factory.mktemp("fuzz") / "ledger.db"
        patch = {"storage": {"flush_interval_ms": 200}, "server": {"auth_failure_limit": 0}}
        config = build_settings(sim_url, db, patch)

        async def issue() -> str:
            store = open_store(config.storage.url)
            await store.open()
            record, secret = new_client_key("analytics", "prod", "fuzz")
            await store.add_client_key(record)
            await store.close()
            return secret

        key = asyncio.run(issue())
        with AsgiHarness(create_app(config, env=UPSTREAM_SECRETS)) as call:
            yield Rig(call, simulator, key)


def check_answer(rig: Rig, answer: Answer, forwarded_before: int) -> None:
    """The invariants of every answer (see the module docstring)."""
    assert answer.status < 500, answer
    forwarded = rig.simulator.state.request_count() > forwarded_before
    if answer.status == 200:
        assert forwarded
        return
    if not forwarded:  # teamgate's own refusal
        assert 400 <= answer.status < 500, answer
        assert answer.header(b"content-type") == b"application/json"
        error = orjson.loads(answer.body)["error"]
        assert set(error) == {"message", "type", "code"} and error["message"]


def check_forwarded_policy(rig: Rig, forwarded_before: int) -> None:
    """Whatever reached the simulator obeys policy: the allowed model, a cap within the team's."""
    new = rig.simulator.state.request_count() - forwarded_before
    for request in rig.simulator.state.requests()[-new:] if new else []:
        assert request.model == ALLOWED, request
        caps = [c for c in (request.max_completion_tokens, request.max_tokens) if c is not None]
        assert caps and max(caps) <= CAP, request


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
messages = st.one_of(
    json_values,
    st.lists(
        st.fixed_dictionaries(
            {
                "role": st.sampled_from(["user", "system", "assistant", "tool", "x"]),
                "content": json_values,
            }
        ),
        max_size=3,
    ),
    st.just([{"role": "user", "content": "hi"}]),
)
token_caps = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-2, max_value=CAP + 2),
    st.floats(allow_nan=False),
    st.booleans(),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
)
chat_bodies = st.fixed_dictionaries(
    {},
    optional={
        "model": st.one_of(
            st.sampled_from(
                [ALLOWED, "fast", "llama-3.3-70b-versatile", "", "LLAMA-3.1-8B-INSTANT"]
            ),
            json_values,
        ),
        "messages": messages,
        "max_tokens": token_caps,
        "max_completion_tokens": token_caps,
        "stream": st.one_of(st.booleans(), json_values),
        "n": st.one_of(st.just(1), json_values),
        "tools": json_values,
        "response_format": json_values,
        "unknown_field": json_values,
    },
)


@FUZZ
@given(body=chat_bodies)
def test_fuzzed_chat_bodies(rig: Rig, body: dict[str, Any]) -> None:
    before = rig.simulator.state.request_count()
    answer = rig.post(json.dumps(body).encode())
    check_answer(rig, answer, before)
    check_forwarded_policy(rig, before)


@FUZZ
@given(raw=st.binary(max_size=300))
def test_fuzzed_raw_bytes(rig: Rig, raw: bytes) -> None:
    before = rig.simulator.state.request_count()
    check_answer(rig, rig.post(raw), before)
    assert rig.simulator.state.request_count() == before


@FUZZ
@given(junk=st.binary(min_size=1, max_size=12))
def test_invalid_utf8_inside_json_strings(rig: Rig, junk: bytes) -> None:
    body = b'{"model": "' + ALLOWED.encode() + b'", "messages": [{"role": "user", "content": "'
    body += junk.replace(b'"', b"").replace(b"\\", b"") + b'"}]}'
    before = rig.simulator.state.request_count()
    answer = rig.post(body)
    check_answer(rig, answer, before)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        assert answer.status == 400 and rig.simulator.state.request_count() == before


@pytest.mark.parametrize("depth", [64, 1000, 1025, 5000, 200_000])
@pytest.mark.parametrize("shape", ["array", "object"])
def test_deeply_nested_json_is_400_not_500(rig: Rig, depth: int, shape: str) -> None:
    opening, closing = (b"[", b"]") if shape == "array" else (b'{"a":', b"}")
    nested = opening * depth + b"1" + closing * depth
    body = b'{"model": "' + ALLOWED.encode() + b'", "messages": [{"role": "user", "content": '
    body += nested + b"}]}"
    before = rig.simulator.state.request_count()
    answer = rig.post(body)
    check_answer(rig, answer, before)
    if depth > 1024:  # orjson's recursion limit
        assert answer.status == 400


def test_huge_flat_json_is_parsed_or_refused_by_size(rig: Rig) -> None:
    content = "word " * 400_000  # 2 MB of text: under the 10 MiB limit
    body = orjson.dumps({"model": ALLOWED, "messages": [{"role": "user", "content": content}]})
    before = rig.simulator.state.request_count()
    answer = rig.post(body)
    check_answer(rig, answer, before)
    many_keys = orjson.dumps({f"k{i}": i for i in range(200_000)} | {"model": ALLOWED})
    check_answer(rig, rig.post(many_keys), rig.simulator.state.request_count())


header_names = st.one_of(
    st.sampled_from(
        [
            b"authorization",
            b"content-length",
            b"content-type",
            b"transfer-encoding",
            b"host",
            b"x-teamgate-team",
            b"x-forwarded-for",
            b"x-sim-fault",
            b"expect",
            b"cookie",
        ]
    ),
    st.binary(min_size=1, max_size=12).map(lambda b: b.lower()),
)
# What an HTTP/1.1 parser can deliver: no CR, LF or NUL in a value.
header_values = st.binary(max_size=40).map(
    lambda b: b.replace(b"\r", b"").replace(b"\n", b"").replace(b"\x00", b"")
)


@FUZZ
@given(
    extra=st.lists(st.tuples(header_names, header_values), max_size=5), valid_first=st.booleans()
)
def test_fuzzed_headers(rig: Rig, extra: list[tuple[bytes, bytes]], valid_first: bool) -> None:
    body = orjson.dumps({"model": ALLOWED, "messages": [{"role": "user", "content": "hi"}]})
    extra = [(k, v) for k, v in extra if k != b"x-sim-fault"]  # faults are tested elsewhere
    headers = [rig.auth, *extra] if valid_first else [*extra, rig.auth]
    before = rig.simulator.state.request_count()
    answer = rig.call("POST", CHAT, headers, body)
    check_answer(rig, answer, before)
    check_forwarded_policy(rig, before)
    forwarded = rig.simulator.state.requests()[-1] if answer.status == 200 else None
    if forwarded is not None:  # the client's credentials never travel upstream
        assert rig.key not in str(forwarded.headers)


def test_header_injection_and_duplicates(rig: Rig) -> None:
    body = orjson.dumps({"model": ALLOWED, "messages": [{"role": "user", "content": "hi"}]})
    cases = [
        [rig.auth, (b"x-custom", b"a\r\nx-injected: 1")],
        [rig.auth, (b"x-custom", b"a\nauthorization: Bearer gsk_stolen")],
        [(b"authorization", b"Bearer tg_wrong"), rig.auth],
        [rig.auth, (b"authorization", b"Bearer tg_wrong")],
        [rig.auth, (b"content-length", b"5"), (b"content-length", b"99999999999")],
        [rig.auth, (b"content-length", b"-1")],
        [rig.auth, (b"content-length", b"abc")],
        [(b"authorization", b"Bearer " + rig.key.encode() + b"\r\nx: y")],
        [(b"authorization", b"Basic " + rig.key.encode())],
        [(b"authorization", b"Bearer  " + rig.key.encode() + b"  ")],
    ]
    for headers in cases:
        before = rig.simulator.state.request_count()
        answer = rig.call("POST", CHAT, headers, body)
        check_answer(rig, answer, before)
        if answer.status == 200:
            sent = rig.simulator.state.requests()[-1].headers
            assert not any("\n" in k or "\n" in v or k == "x-injected" for k, v in sent.items())
    first_wrong = rig.call("POST", CHAT, [(b"authorization", b"Bearer tg_wrong"), rig.auth], body)
    assert first_wrong.status == 401  # the first authorization header is the one read


PATH_TRICKS = [
    "/openai/v1/../admin",
    "/openai/v1/../../etc/passwd",
    "//openai/v1/chat/completions",
    "/openai/v1//chat/completions",
    "/openai/v1/chat/completions/",
    "/openai/v1/chat/completions/../completions",
    "/openai/v1/%2e%2e/admin",
    "/openai/v1/chat%2fcompletions",
    "/OPENAI/V1/chat/completions",
    "/openai/v1/chat/completions\x00",
    "/openai/v1/models/../../admin",
    "/admin/../openai/v1/chat/completions",
    "/v1/../openai/v1/chat/completions",
    "/openai/v1/chat/completions;.json",
    "/" + "a/" * 2000,
]


@pytest.mark.parametrize("path", PATH_TRICKS)
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "OPTIONS", "TRACE"])
def test_path_tricks_are_groq_shaped_4xx(rig: Rig, path: str, method: str) -> None:
    body = orjson.dumps({"model": ALLOWED, "messages": [{"role": "user", "content": "hi"}]})
    before = rig.simulator.state.request_count()
    answer = rig.call(method, path, [rig.auth], body)
    assert 400 <= answer.status < 500, answer
    check_answer(rig, answer, before)
    assert rig.simulator.state.request_count() == before


@FUZZ
@given(path=st.text(max_size=60), method=st.sampled_from(["GET", "POST", "PATCH", "HEAD"]))
def test_fuzzed_paths(rig: Rig, path: str, method: str) -> None:
    before = rig.simulator.state.request_count()
    answer = rig.call(method, "/" + path, [rig.auth], b"{}")
    assert answer.status < 500, answer
    if answer.status != 200:
        check_answer(rig, answer, before)


@FUZZ
@given(cap=token_caps, field=st.sampled_from(["max_tokens", "max_completion_tokens"]))
def test_token_caps_of_every_type_and_sign(rig: Rig, cap: Any, field: str) -> None:
    body = {"model": ALLOWED, "messages": [{"role": "user", "content": "hi"}], field: cap}
    before = rig.simulator.state.request_count()
    answer = rig.post(json.dumps(body).encode())
    check_answer(rig, answer, before)
    valid = isinstance(cap, int) and not isinstance(cap, bool) and 1 <= cap <= CAP
    assert (answer.status == 200) == valid, (cap, answer)
    check_forwarded_policy(rig, before)


def first_wins(raw: bytes) -> dict[str, Any]:
    """How a parser that keeps the FIRST of repeated keys reads a body."""

    def keep_first(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            out.setdefault(key, value)
        return out

    parsed: dict[str, Any] = json.loads(raw, object_pairs_hook=keep_first)
    return parsed


@pytest.mark.parametrize(
    "raw",
    [
        b'{"model": "llama-3.3-70b-versatile", "model": "llama-3.1-8b-instant", "messages": []}',
        b'{"max_tokens": 100000, "max_tokens": 10, "model": "llama-3.1-8b-instant"}',
        b'{"\\u006dodel": "llama-3.3-70b-versatile", "model": "llama-3.1-8b-instant"}',
        b'{"stream": true, "stream": false, "model": "llama-3.1-8b-instant"}',
    ],
)
def test_repeated_or_escaped_policy_keys_are_forwarded_as_checked(raw: bytes) -> None:
    """Regression: policy read the last of two ``model`` keys while the client's bytes,
    forwarded as they were, let a first-wins parser upstream read the first."""
    body = orjson.loads(raw)
    plan = ChatPlan(
        body["model"], ALLOWED, 10, bool(body.get("stream")), "max_tokens" not in body, False
    )
    seen_upstream = first_wins(upstream_body(raw, body, plan))
    assert seen_upstream["model"] == ALLOWED
    assert seen_upstream.get("max_tokens", 10) == 10
    assert seen_upstream.get("stream", False) is False


def test_duplicate_model_key_end_to_end(rig: Rig) -> None:
    raw = (
        b'{"model": "llama-3.3-70b-versatile", "model": "' + ALLOWED.encode() + b'", '
        b'"messages": [{"role": "user", "content": "hi"}]}'
    )
    before = rig.simulator.state.request_count()
    answer = rig.post(raw)
    assert answer.status == 200
    check_forwarded_policy(rig, before)


def test_fuzzing_left_the_gateway_healthy(rig: Rig) -> None:
    assert rig.call("GET", "/health").status == 200
    body = orjson.dumps({"model": ALLOWED, "messages": [{"role": "user", "content": "hi"}]})
    assert rig.post(body).status == 200


def test_a_bug_answers_a_groq_shaped_500_not_a_traceback(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> object:
        raise RuntimeError("a bug")

    monkeypatch.setattr(rig.call.app.gateway.keys, "authenticate", broken)
    body = orjson.dumps({"model": ALLOWED, "messages": [{"role": "user", "content": "hi"}]})
    answer = rig.post(body)
    assert answer.status == 500
    assert answer.header(b"content-type") == b"application/json"
    error = orjson.loads(answer.body)["error"]
    assert error["code"] == "internal_error" and "a bug" not in error["message"]
    assert "unhandled error" in caplog.text
