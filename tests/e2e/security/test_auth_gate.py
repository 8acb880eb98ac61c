"""One authentication gate: every route family slows failed authentications the same way.

20 parallel wrong credentials from one address, on each route family, each take at
least the configured delay; a valid credential from that address is not slowed;
rotating ``X-Forwarded-For`` from a peer that is not a trusted proxy does not reset
the count (in-process and through ``teamgate serve``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from teamgate.auth.gate import address_bucket
from teamgate.http.serving import ServerThread
from teamgate.http.trusted_proxies import TrustedProxies
from teamgate.simulator import Simulator, create_simulator
from tests.conftest import RunningGateway, start_gateway
from tests.support.admin_gateway import ADMIN_KEY
from tests.support.serve_process import ServeProcess

DELAY_S = 0.25
LIMIT = 2
CONCURRENCY = 4
PARALLEL = 20
GATE = {
    "server": {
        "auth_failure_limit": LIMIT,
        "auth_failure_delay_s": DELAY_S,
        "auth_failure_concurrency": CONCURRENCY,
    },
    "metrics": {"token_env": "TEAMGATE_METRICS_TOKEN"},
}
METRICS_TOKEN = "mtok_" + "7f3a9c" * 7
BAD_TG = {"authorization": "Bearer tg_guessed_000000000000000000000000000000"}
BAD_ADMIN = {"x-admin-key": "adm_guess_" + "0" * 30}
JSON_BODY = b'{"model": "llama-3.1-8b-instant", "input": "hi"}'

# (family, method, path, headers, body): a wrong credential on each route family.
FAMILIES: list[tuple[str, str, str, dict[str, str], bytes]] = [
    ("chat", "POST", "/openai/v1/chat/completions", BAD_TG, b"{}"),
    ("chat /v1", "POST", "/v1/chat/completions", BAD_TG, b"{}"),
    ("models", "GET", "/openai/v1/models", BAD_TG, b""),
    ("model", "GET", "/openai/v1/models/llama-3.1-8b-instant", BAD_TG, b""),
    ("responses", "POST", "/openai/v1/responses", BAD_TG, JSON_BODY),
    ("embeddings", "POST", "/openai/v1/embeddings", BAD_TG, JSON_BODY),
    ("audio", "POST", "/openai/v1/audio/transcriptions", BAD_TG, b""),
    ("files", "GET", "/openai/v1/files", BAD_TG, b""),
    ("file upload", "POST", "/openai/v1/files", BAD_TG, b""),
    ("batches", "GET", "/openai/v1/batches", BAD_TG, b""),
    ("usage API", "GET", "/teamgate/v1/usage", BAD_TG, b""),
    ("admin keys", "GET", "/admin/keys", BAD_ADMIN, b""),
    ("admin bearer", "POST", "/admin/reload", {"authorization": "Bearer nope"}, b""),
    ("admin openapi", "GET", "/admin/openapi.json", BAD_ADMIN, b""),
    ("metrics", "GET", "/metrics", {"authorization": "Bearer not-the-token"}, b""),
    ("dashboard login", "POST", "/dashboard/login", {}, b""),  # form built below
]


@pytest.fixture(scope="module")
def gated() -> Iterator[RunningGateway]:
    sim = create_simulator()
    import tempfile

    with ServerThread(sim.app) as url, tempfile.TemporaryDirectory() as folder:
        sim.url = url  # type: ignore[attr-defined]
        env = {"TEAMGATE_ADMIN_KEY": ADMIN_KEY, "TEAMGATE_METRICS_TOKEN": METRICS_TOKEN}
        yield from start_gateway(sim, Path(folder), GATE, env=env)


# "Never slowed" is shown against a gate whose delay is long: a valid answer that took
# the delay would take seconds, while a loaded machine adds at most a fraction of that
# (a 0.25 s bound failed under load with nothing slowed).
PENALTY_S = 5.0


@pytest.fixture(scope="module")
def penalising() -> Iterator[RunningGateway]:
    sim = create_simulator()
    import tempfile

    config = {**GATE, "server": {**GATE["server"], "auth_failure_delay_s": PENALTY_S}}
    with ServerThread(sim.app) as url, tempfile.TemporaryDirectory() as folder:
        sim.url = url  # type: ignore[attr-defined]
        env = {"TEAMGATE_ADMIN_KEY": ADMIN_KEY, "TEAMGATE_METRICS_TOKEN": METRICS_TOKEN}
        yield from start_gateway(sim, Path(folder), config, env=env)


def _login_form(gw: RunningGateway) -> tuple[dict[str, str], bytes]:
    page = httpx.get(gw.url + "/dashboard/login")
    csrf = page.cookies["tg_login_csrf"]
    headers = {
        "cookie": f"tg_login_csrf={csrf}",
        "content-type": "application/x-www-form-urlencoded",
    }
    return headers, f"csrf={csrf}&key=not-the-admin-key".encode()


async def _timed(
    client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str], body: bytes
) -> tuple[int, float]:
    started = time.monotonic()
    resp = await client.request(method, path, headers=headers, content=body)
    return resp.status_code, time.monotonic() - started


async def _parallel(
    gw: RunningGateway, method: str, path: str, headers: dict[str, str], body: bytes, n: int
) -> tuple[list[tuple[int, float]], float]:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=gw.url, limits=limits, timeout=60) as client:
        started = time.monotonic()
        answers = await asyncio.gather(
            *(_timed(client, method, path, headers, body) for _ in range(n))
        )
        return list(answers), time.monotonic() - started


@pytest.mark.parametrize(
    ("family", "method", "path", "headers", "body"), FAMILIES, ids=[f[0] for f in FAMILIES]
)
def test_parallel_wrong_credentials_are_each_slowed_on_every_route_family(
    gated: RunningGateway,
    family: str,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
) -> None:
    gate = gated.app.gateway.auth_gate
    gate.throttle._counts.clear()  # each family starts from a clean count
    if family == "dashboard login":
        headers, body = _login_form(gated)
    for _ in range(LIMIT):  # the first failures of the minute are answered at once
        resp = httpx.request(method, gated.url + path, headers=headers, content=body)
        assert resp.status_code == 401, resp.text
    answers, wall = asyncio.run(_parallel(gated, method, path, headers, body, PARALLEL))
    assert {status for status, _ in answers} == {401}
    slowest_first = sorted(took for _, took in answers)
    assert slowest_first[0] >= DELAY_S, f"{family}: a failure was answered in {slowest_first[0]}"
    # At most CONCURRENCY held failures per address at once: parallel guessing is no faster.
    assert wall >= (PARALLEL / CONCURRENCY) * DELAY_S * 0.95, wall
    assert gate.throttle.failures("127.0.0.1") == LIMIT + PARALLEL


@pytest.mark.parametrize(
    ("method", "path", "headers", "ok"),
    [
        ("GET", "/openai/v1/models", "team", 200),
        ("GET", "/teamgate/v1/usage", "team", 200),
        ("GET", "/admin/keys", "admin", 200),
        ("GET", "/metrics", "metrics", 200),
    ],
)
def test_valid_credentials_are_never_slowed_while_the_address_is_penalised(
    penalising: RunningGateway, method: str, path: str, headers: str, ok: int
) -> None:
    gated = penalising
    gate = gated.app.gateway.auth_gate
    for _ in range(LIMIT + 3):
        gate.throttle.failed("127.0.0.1")
    credential = {
        "team": {"authorization": f"Bearer {gated.key('analytics')}"},
        "admin": {"x-admin-key": ADMIN_KEY},
        "metrics": {"authorization": f"Bearer {METRICS_TOKEN}"},
    }[headers]
    for _ in range(5):
        started = time.monotonic()
        assert httpx.request(method, gated.url + path, headers=credential).status_code == ok
        assert time.monotonic() - started < PENALTY_S


def test_valid_dashboard_login_is_not_slowed(penalising: RunningGateway) -> None:
    gated = penalising
    gated.app.gateway.auth_gate.throttle._counts.clear()
    for _ in range(LIMIT + 3):
        gated.app.gateway.auth_gate.throttle.failed("127.0.0.1")
    headers, _ = _login_form(gated)
    csrf = headers["cookie"].split("=", 1)[1]
    started = time.monotonic()
    resp = httpx.post(
        gated.url + "/dashboard/login", headers=headers, content=f"csrf={csrf}&key={ADMIN_KEY}"
    )
    assert resp.status_code == 303 and time.monotonic() - started < PENALTY_S


def test_rotated_x_forwarded_for_from_an_untrusted_peer_does_not_reset_the_count(
    gated: RunningGateway,
) -> None:
    gate = gated.app.gateway.auth_gate
    gate.throttle._counts.clear()
    took = []
    for i in range(LIMIT + 3):
        spoofed = {**BAD_TG, "x-forwarded-for": f"198.51.100.{i}", "x-real-ip": f"192.0.2.{i}"}
        started = time.monotonic()
        assert httpx.get(gated.url + "/openai/v1/models", headers=spoofed).status_code == 401
        took.append(time.monotonic() - started)
    assert all(t >= DELAY_S for t in took[LIMIT:]), took
    assert gate.throttle.failures("127.0.0.1") == LIMIT + 3
    assert all(gate.throttle.failures(f"198.51.100.{i}") == 0 for i in range(LIMIT + 3))


def test_forwarded_for_is_believed_from_a_trusted_proxy(
    simulator: Simulator, tmp_path: Path
) -> None:
    patch = {
        **GATE,
        "server": {
            **GATE["server"],
            "trusted_proxies": ["127.0.0.0/8"],
            "auth_failure_delay_s": PENALTY_S,
        },
    }
    for gw in start_gateway(simulator, tmp_path, patch):
        throttle = gw.app.gateway.auth_gate.throttle
        for i in range(LIMIT + 2):  # a different client behind the proxy each time: none slowed
            started = time.monotonic()
            forwarded = {**BAD_TG, "x-forwarded-for": f"6.6.6.6, 203.0.113.{i}"}
            assert (
                httpx.get(
                    gw.url + "/v1/models", headers=forwarded, timeout=4 * PENALTY_S
                ).status_code
                == 401
            )
            assert time.monotonic() - started < PENALTY_S
            assert throttle.failures(f"203.0.113.{i}") == 1
        assert throttle.failures("127.0.0.1") == 0 and throttle.failures("6.6.6.6") == 0
        same = {**BAD_TG, "x-forwarded-for": "203.0.113.200"}
        for _ in range(LIMIT):
            httpx.get(gw.url + "/v1/models", headers=same, timeout=4 * PENALTY_S)
        started = time.monotonic()
        assert (
            httpx.get(gw.url + "/v1/models", headers=same, timeout=4 * PENALTY_S).status_code == 401
        )
        assert time.monotonic() - started >= PENALTY_S


def test_teamgate_serve_ignores_forwarded_headers_from_untrusted_peers(
    simulator: Simulator, tmp_path: Path
) -> None:
    """Through the real CLI: uvicorn's own proxy_headers is off, so rotating the header
    from 127.0.0.1 (uvicorn's default trusted address) resets nothing."""
    proc = ServeProcess(
        tmp_path,
        simulator.url,  # type: ignore[attr-defined]
        {"server": {"auth_failure_limit": 1, "auth_failure_delay_s": DELAY_S}},
    )
    proc.start()
    try:
        took = []
        for i in range(4):
            headers = {**BAD_TG, "x-forwarded-for": f"198.51.100.{i}"}
            started = time.monotonic()
            assert httpx.get(proc.url + "/openai/v1/models", headers=headers).status_code == 401
            took.append(time.monotonic() - started)
        assert all(t >= DELAY_S for t in took[1:]), took
    finally:
        proc.stop()


@pytest.mark.parametrize(
    ("trusted", "peer", "chain", "proto", "client", "scheme"),
    [
        ([], "127.0.0.1", "1.2.3.4", "https", "127.0.0.1", "http"),
        (["10.0.0.0/8"], "192.0.2.1", "1.2.3.4", "https", "192.0.2.1", "http"),
        (["10.0.0.0/8"], "10.0.0.2", "1.2.3.4", "https", "1.2.3.4", "https"),
        (["10.0.0.0/8"], "10.0.0.2", "9.9.9.9, 1.2.3.4, 10.0.0.3", None, "1.2.3.4", "http"),
        (["10.0.0.0/8"], "10.0.0.2", "10.0.0.9, 10.0.0.3", None, "10.0.0.9", "http"),
        (["10.0.0.0/8"], "10.0.0.2", "1.2.3.4, not-an-ip", None, "10.0.0.2", "http"),
        (["10.0.0.2"], "10.0.0.2", "2001:db8::1", "http", "2001:db8::1", "http"),
        (["::1"], "::1", "2001:db8::7", None, "2001:db8::7", "http"),
    ],
)
def test_trusted_proxies_table(
    trusted: list[str],
    peer: str,
    chain: str,
    proto: str | None,
    client: str,
    scheme: str,
) -> None:
    headers = [(b"x-forwarded-for", chain.encode())]
    if proto:
        headers.append((b"x-forwarded-proto", proto.encode()))
    scope: dict[str, Any] = {"client": (peer, 1234), "scheme": "http", "headers": headers}
    TrustedProxies.parse(trusted).apply(scope)
    assert scope["client"][0] == client and scope["scheme"] == scheme


def test_ipv6_failures_are_counted_per_64() -> None:
    assert address_bucket("2001:db8:1:2::1") == address_bucket("2001:db8:1:2:ffff::9")
    assert address_bucket("2001:db8:1:3::1") != address_bucket("2001:db8:1:2::1")
    assert address_bucket("10.0.0.1") == "10.0.0.1"


def test_trusted_proxies_must_be_addresses_or_ranges() -> None:
    from teamgate.config.errors import ConfigError
    from teamgate.config.loader import parse_settings

    base = {
        "teams": {
            "ops": {
                "allowed_models": ["llama-3.1-8b-instant"],
                "max_tokens_per_request": 10,
                "environments": {"prod": {"upstream_keys": [{"name": "k", "secret": "env:K"}]}},
            }
        }
    }
    ok = parse_settings({**base, "server": {"trusted_proxies": ["10.0.0.0/8", "::1"]}})
    assert ok.server.trusted_proxies == ("10.0.0.0/8", "::1")
    with pytest.raises(ConfigError, match=r"server.trusted_proxies\[1\]: must be an IP address"):
        parse_settings({**base, "server": {"trusted_proxies": ["10.0.0.1", "proxy.local"]}})
