"""Schema-driven fuzzing of the admin API (schemathesis), its auth boundary and path tricks.

The OpenAPI document is loaded from a running gateway (``GET /admin/openapi.json``),
so what is fuzzed is what the gateway serves. For every operation schemathesis
generates requests that fit the schema (positive) and requests that break it
(negative), ``EXAMPLES`` of each, derandomized (the same requests on every run), and
checks every answer: no 5xx, a documented status, the documented content type, a body
matching the documented schema, and (negative) that schema-breaking input is refused.
All traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import http.client
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from teamgate.admin.routes import ROUTES
from teamgate.http.serving import ServerThread
from teamgate.simulator import create_simulator
from tests.conftest import RunningGateway
from tests.support.admin_gateway import ADMIN_KEY, start_admin_gateway

EXAMPLES = 60  # per operation and mode
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: bounded time
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
OPERATIONS = [(r.method, r.path) for r in ROUTES]


@pytest.fixture(scope="module")
def fuzz_counts() -> Iterator[Counter[str]]:
    """Requests sent per test kind (printed at the end: ``pytest -s`` shows them)."""
    counts: Counter[str] = Counter()
    yield counts
    print(f"\nadmin fuzzing: {dict(counts)}, {sum(counts.values())} requests in all")


@pytest.fixture(scope="module")
def agw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """One gateway with an admin key for the whole module."""
    sim = create_simulator()
    with ServerThread(sim.app) as url:
        sim.url = url  # type: ignore[attr-defined]
        # Thousands of wrong admin keys on purpose: the failure throttle (tested in
        # test_auth_gate.py) is off here, or the fuzzing would mostly wait.
        patch = {"server": {"auth_failure_limit": 0}}
        yield from start_admin_gateway(sim, tmp_path_factory.mktemp("admin-fuzz"), patch)


@pytest.fixture(scope="module")
def schema(agw: RunningGateway) -> BaseSchema:
    return schemathesis.openapi.from_url(agw.url + "/admin/openapi.json", headers=ADMIN, timeout=10)


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def fuzz(strategy: st.SearchStrategy[Any], examples: int, body: Callable[[Any], None]) -> None:
    """Run ``body`` over ``examples`` derandomized draws of ``strategy``."""

    @settings(FUZZ, max_examples=examples)
    @given(strategy)
    def run(case: Any) -> None:
        body(case)

    run()


def key_list(agw: RunningGateway) -> list[dict[str, Any]]:
    """Every stored key, without ``state``: a key rotated with a 1 s grace by an earlier
    fuzz case may pass from in-grace to expired meanwhile, which is no write."""
    resp = requests.get(
        agw.url + "/admin/keys", params={"include_revoked": "true"}, headers=ADMIN, timeout=10
    )
    assert resp.status_code == 200, resp.text
    keys: list[dict[str, Any]] = resp.json()["keys"]
    return [{k: v for k, v in key.items() if k != "state"} for key in keys]


def assert_groq_error(status: int, content_type: str, body: bytes) -> dict[str, Any]:
    assert content_type.startswith("application/json"), (status, content_type, body[:200])
    parsed = orjson.loads(body)
    assert set(parsed) == {"error"}, parsed
    error: dict[str, Any] = parsed["error"]
    assert isinstance(error["message"], str) and isinstance(error["type"], str), error
    assert b"Traceback" not in body
    return error


# --- the schema fuzzing ---------------------------------------------------------


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_every_admin_operation_conforms_to_its_schema(
    schema: BaseSchema,
    session: requests.Session,
    fuzz_counts: Counter[str],
    method: str,
    path: str,
    mode: GenerationMode,
) -> None:
    operation = schema[path][method]
    checks = [*CHECKS, negative_data_rejection] if mode.is_negative else CHECKS

    def call(case: Any) -> None:
        fuzz_counts[f"schema-{mode.value}"] += 1
        response = case.call(session=session, headers=ADMIN, timeout=10)
        case.validate_response(response, checks=checks, headers=ADMIN)

    fuzz(operation.as_strategy(mode), EXAMPLES, call)


@pytest.mark.parametrize("operation", ["revokeKey", "rotateKey"])
def test_revoke_and_rotate_fuzzed_on_live_keys(
    agw: RunningGateway,
    schema: BaseSchema,
    session: requests.Session,
    fuzz_counts: Counter[str],
    operation: str,
) -> None:
    """Random names only ever meet 404; these use names of keys that exist."""
    names = [f"{operation.lower()}{i}" for i in range(5)]
    for purpose in names:
        agw.add_key("research", "batch", purpose)
    route = next(r for r in ROUTES if r.operation_id == operation)
    op = schema[route.path][route.method]
    strategy = st.sampled_from(names).flatmap(
        lambda purpose: op.as_strategy(path_parameters={"name": f"research-batch-{purpose}"})
    )

    def call(case: Any) -> None:
        fuzz_counts["schema-live-keys"] += 1
        response = case.call(session=session, headers=ADMIN, timeout=10)
        case.validate_response(response, checks=CHECKS, headers=ADMIN)

    fuzz(strategy, EXAMPLES, call)


# --- regression tests for what the fuzzing found -----------------------------------


@pytest.mark.parametrize(
    ("path", "params"),
    [
        # Instants before 1970 or past year 9999, NaN, infinity: datetime overflowed (500).
        ("/admin/usage", {"from": "0001-01-01T00:00:00+14:00"}),
        ("/admin/usage", {"to": "9999-12-31T23:59:59-12:00"}),
        ("/admin/usage", {"to": "1e20"}),
        ("/admin/usage", {"from": "-1e20"}),
        ("/admin/usage", {"from": "nan"}),
        ("/admin/usage", {"from": "inf"}),
        ("/admin/usage", {"from": "1_000"}),
        # Report periods in year 1 or 9999: the previous/next period overflowed (500).
        ("/admin/reports/weekly", {"week": "0001-W01"}),
        ("/admin/reports/weekly", {"week": "9999-W52"}),
        ("/admin/reports/monthly", {"month": "0001-01"}),
        ("/admin/reports/monthly", {"month": "9999-12"}),
    ],
)
def test_out_of_range_instants_and_periods_are_400(
    agw: RunningGateway, path: str, params: dict[str, str]
) -> None:
    resp = requests.get(agw.url + path, params=params, headers=ADMIN, timeout=10)
    assert resp.status_code == 400, resp.text
    error = assert_groq_error(400, resp.headers["content-type"], resp.content)
    assert error["code"] == "invalid_parameter"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        # Empty values mean "the default": the schema said they were invalid.
        ("/admin/usage", {"group_by": "", "from": "", "to": ""}),
        ("/admin/reports/weekly", {"week": "", "by": ""}),
        ("/admin/reports/monthly", {"month": "", "by": ""}),
    ],
)
def test_empty_parameters_mean_the_default(
    agw: RunningGateway, path: str, params: dict[str, str]
) -> None:
    resp = requests.get(agw.url + path, params=params, headers=ADMIN, timeout=10)
    assert resp.status_code == 200, resp.text


def test_absurd_durations_are_400_and_change_nothing(agw: RunningGateway) -> None:
    """``expires_in``/``grace`` beyond a datetime: the key was stored, then a 500 (the
    secret lost); a rotation expired the old key and lost the successor's secret."""
    name = "research-batch-longlived"
    agw.add_key("research", "batch", "longlived")
    before = key_list(agw)
    too_long = ["99999999999w", "9" * 400 + "w", "5300w"]  # 5300 weeks: just over 100 years
    for value in too_long:
        resp = requests.post(
            agw.url + "/admin/keys",
            json={"team": "chatbot", "environment": "prod", "purpose": "x", "expires_in": value},
            headers=ADMIN,
            timeout=10,
        )
        assert resp.status_code == 400, resp.text
        assert assert_groq_error(400, resp.headers["content-type"], resp.content)["code"] == (
            "invalid_field"
        )
        resp = requests.post(
            f"{agw.url}/admin/keys/{name}/rotate", json={"grace": value}, headers=ADMIN, timeout=10
        )
        assert resp.status_code == 400, resp.text
    assert key_list(agw) == before
    ok = requests.post(
        agw.url + "/admin/keys",
        json={"team": "chatbot", "environment": "prod", "purpose": "x", "expires_in": "5200w"},
        headers=ADMIN,
        timeout=10,
    )
    assert ok.status_code == 201, ok.text


def test_the_document_names_the_configured_teams(agw: RunningGateway) -> None:
    doc = requests.get(agw.url + "/admin/openapi.json", headers=ADMIN, timeout=10).json()
    props = doc["components"]["schemas"]["KeyCreate"]["properties"]
    assert props["team"]["enum"] == sorted(agw.settings.teams)
    assert set(props["environment"]["enum"]) == {"prod", "staging", "batch"}


# --- the auth boundary --------------------------------------------------------------


def not_the_admin_key(agw: RunningGateway) -> st.SearchStrategy[dict[str, str]]:
    """Headers that must not open the admin API: none, team keys, near misses, noise."""
    team_key = agw.key("chatbot", "prod")
    near_misses = [
        ADMIN_KEY[:-1],
        ADMIN_KEY + "0",
        ADMIN_KEY.upper(),
        ADMIN_KEY[::-1],
        ADMIN_KEY[:8],
        "",
    ]
    fixed = [
        {},
        {"Authorization": f"Bearer {team_key}"},
        {"x-admin-key": team_key},
        {"Authorization": f"Basic {ADMIN_KEY}"},
        {"Authorization": f"Token {ADMIN_KEY}"},
        *({"Authorization": f"Bearer {k}"} for k in near_misses),
        *({"x-admin-key": k} for k in near_misses),
    ]
    noise = st.from_regex(r"[!-~]{1,80}", fullmatch=True).filter(lambda k: ADMIN_KEY not in k)
    return st.one_of(
        st.sampled_from(fixed),
        noise.map(lambda k: {"Authorization": f"Bearer {k}"}),
        noise.map(lambda k: {"x-admin-key": k}),
    )


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_operation_answers_without_the_admin_key(
    agw: RunningGateway,
    schema: BaseSchema,
    session: requests.Session,
    fuzz_counts: Counter[str],
    method: str,
    path: str,
) -> None:
    before = key_list(agw)
    operation = schema[path][method]
    strategy = st.tuples(operation.as_strategy(GenerationMode.POSITIVE), not_the_admin_key(agw))

    def call(drawn: tuple[Any, dict[str, str]]) -> None:
        case, headers = drawn
        fuzz_counts["auth"] += 1
        kwargs = case.as_transport_kwargs(base_url=agw.url)
        sent = {
            k: v
            for k, v in (kwargs.get("headers") or {}).items()
            if k.lower() not in ("authorization", "x-admin-key")
        }
        kwargs["headers"] = {**sent, **headers}
        response = session.request(**kwargs, timeout=10)
        assert response.status_code == 401, (kwargs, response.text)
        error = assert_groq_error(401, response.headers["content-type"], response.content)
        assert error["code"] == "invalid_admin_key"

    fuzz(strategy, 20, call)
    assert key_list(agw) == before, "a request without the admin key changed the keys"


# --- path tricks, duplicate headers, huge query strings ------------------------------


def raw(
    agw: RunningGateway, method: str, target: str, headers: list[tuple[str, str]], body: bytes = b""
) -> tuple[int, str, bytes]:
    """Send ``target`` byte for byte (no client-side normalisation); status, type, body."""
    url = urlsplit(agw.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        if body and not any(n.lower() == "content-length" for n, _ in headers):
            conn.putheader("content-length", str(len(body)))
        conn.endheaders(body or None)
        resp = conn.getresponse()
        return resp.status, resp.getheader("content-type") or "", resp.read()
    finally:
        conn.close()


# Paths that reach the admin listing only through the decoder or the trailing-slash rule.
LISTING_SPELLINGS = [
    "/admin/keys/",
    "/admin/keys//",
    "/admin/keys%2f",
    "/admin%2fkeys",
    "/admin/%6beys",
]
TRICKS = [
    *LISTING_SPELLINGS,
    "/admin/../admin/keys",
    "/admin/./keys",
    "/admin//keys",
    "//admin/keys",
    "/./admin/keys",
    "/ADMIN/keys",
    "/Admin/Keys",
    "/admin/%2e%2e/admin/keys",
    "/%2e%2e/admin/keys",
    "/admin/keys/../../admin/keys",
    "/admin/keys/%2e%2e/budget",
    "/openai/v1/../../admin/keys",
    "/openai/v1/%2e%2e/%2e%2e/admin/keys",
    "/admin/keys%00",
    "/admin/keys;include_revoked=true",
    "/admin/openapi.json/",
    "/admin",
    "/admin/",
    "/admin/keys?include_revoked=true&include_revoked=false",
    "/admin/keys?" + "x" * 60_000,
]


@pytest.mark.parametrize("target", TRICKS)
def test_path_tricks_never_open_the_admin_api(
    agw: RunningGateway, fuzz_counts: Counter[str], target: str
) -> None:
    team_key = agw.key("chatbot", "prod")
    for headers in ([], [("Authorization", f"Bearer {team_key}")], [("x-admin-key", "nope")]):
        fuzz_counts["paths"] += 1
        status, content_type, body = raw(agw, "GET", target, headers)
        assert status in (401, 404), (target, headers, status, body[:200])
        assert_groq_error(status, content_type, body)
        assert b"chatbot-prod-test" not in body  # no key listing leaks
    fuzz_counts["paths"] += 1
    status, content_type, body = raw(agw, "GET", target, [("x-admin-key", ADMIN_KEY)])
    if target in LISTING_SPELLINGS or target.startswith("/admin/keys?"):
        assert status == 200, (target, body[:200])
    else:
        assert status == 404, (target, status, body[:200])
        assert_groq_error(status, content_type, body)


@pytest.mark.parametrize(
    "target",
    [
        "/admin/keys/chatbot-prod-test/revoke/",
        "/admin/../admin/keys/chatbot-prod-test/revoke",
        "/admin/keys/chatbot-prod-test%2frevoke",
        "/ADMIN/keys/chatbot-prod-test/revoke",
        "/openai/v1/../../admin/keys/chatbot-prod-test/revoke",
    ],
)
def test_path_tricks_cannot_revoke_without_the_admin_key(agw: RunningGateway, target: str) -> None:
    before = key_list(agw)
    team_key = agw.key("chatbot", "prod")
    for headers in ([], [("Authorization", f"Bearer {team_key}")]):
        status, content_type, body = raw(agw, "POST", target, headers, b"{}")
        assert status in (401, 404, 405), (target, status, body[:200])
        assert_groq_error(status, content_type, body)
    assert key_list(agw) == before


def test_duplicate_auth_headers_the_first_one_counts(agw: RunningGateway) -> None:
    team = f"Bearer {agw.key('chatbot', 'prod')}"
    admin = f"Bearer {ADMIN_KEY}"
    cases: list[tuple[list[tuple[str, str]], int]] = [
        ([("Authorization", team), ("Authorization", admin)], 401),
        ([("Authorization", "Bearer wrong"), ("Authorization", admin)], 401),
        ([("x-admin-key", "wrong"), ("x-admin-key", ADMIN_KEY)], 401),
        ([("Authorization", admin), ("Authorization", team)], 200),
        ([("x-admin-key", ADMIN_KEY), ("x-admin-key", ADMIN_KEY)], 200),
        ([("Authorization", team), ("x-admin-key", ADMIN_KEY)], 200),  # either header may hold it
    ]
    for headers, expected in cases:
        status, content_type, body = raw(agw, "GET", "/admin/budget", headers)
        assert status == expected, (headers, body[:200])
        if status != 200:
            assert_groq_error(status, content_type, body)


def test_duplicate_content_length_is_refused(agw: RunningGateway) -> None:
    body = orjson.dumps({"team": "chatbot", "environment": "prod", "purpose": "dup"})
    headers = [
        ("x-admin-key", ADMIN_KEY),
        ("content-length", str(len(body))),
        ("content-length", str(len(body) + 5)),
    ]
    status, _, _ = raw(agw, "POST", "/admin/keys", headers, body)
    assert 400 <= status < 500
    assert not any(k["name"] == "chatbot-prod-dup" for k in key_list(agw))


def test_huge_query_strings(agw: RunningGateway) -> None:
    admin = [("x-admin-key", ADMIN_KEY)]
    # 4 000 repeated parameters (56 kB): parsed, the last value wins.
    many = "&".join(["group_by=team"] * 3_999 + ["group_by=model"])
    status, _, body = raw(agw, "GET", "/admin/usage?" + many, admin)
    assert status == 200, body[:200]
    assert orjson.loads(body)["group_by"] == ["model"]
    status, content_type, body = raw(agw, "GET", "/admin/usage?" + many, [])
    assert status == 401
    assert_groq_error(status, content_type, body)
    # Past ~64 KiB the HTTP parser (uvicorn/httptools) refuses the request line itself
    # with its own plain-text 400, before teamgate sees it; the gateway keeps serving.
    status, _, _ = raw(agw, "GET", "/admin/usage?x=" + "y" * 200_000, admin)
    assert status == 400
    assert raw(agw, "GET", "/admin/budget", admin)[0] == 200
