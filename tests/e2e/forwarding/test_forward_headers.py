"""Headers toward Groq are an allow-list: whatever else a client sends never leaves teamgate."""

from __future__ import annotations

import random
import string

import httpx
import pytest

from teamgate.upstream.client import forward_headers
from tests.conftest import RunningGateway

# What the security review saw reach Groq, and what else clients and proxies add.
ISSUE_HEADERS = {
    "x-admin-key": "tgadmin_should_never_leave_0123456789",
    "x-api-key": "some-other-secret",
    "x-forwarded-for": "10.1.2.3",
    "x-forwarded-proto": "https",
    "x-forwarded-host": "internal.example",
    "forwarded": "for=10.1.2.3;proto=https",
    "x-real-ip": "10.1.2.3",
    "groq-organization": "org_123",
    "openai-organization": "org-abc",
    "openai-project": "proj_abc",
    "via": "1.1 corp-proxy",
    "origin": "https://evil.example",
    "referer": "https://intranet.example/secret-page",
    "cookie": "session=abc",
    "proxy-authorization": "Basic Zm9vOmJhcg==",
    "x-teamgate-debug": "1",
    "x-teamgate-user": "end-user-42",  # attribution: recorded, never forwarded
    "x-teamgate-tags": "feature=search,tenant=acme",
    "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "x-amzn-trace-id": "Root=1-5759e988",
    "x-request-id": "req-1",
    "accept-language": "en",
    "dnt": "1",
}
ALLOWED = {
    "accept": "application/json",
    "user-agent": "Groq/Python 0.30.0",
    "x-stainless-lang": "python",
    "x-stainless-package-version": "0.30.0",
    "x-stainless-retry-count": "0",
    "x-stainless-read-timeout": "60",
    "idempotency-key": "stainless-python-retry-1",
}


def _random_headers(seed: int, n: int = 30) -> dict[str, str]:
    rng = random.Random(seed)
    alphabet = string.ascii_lowercase + string.digits + "-"
    out = {}
    while len(out) < n:
        name = "x-" + "".join(rng.choice(alphabet) for _ in range(rng.randint(3, 20)))
        if not name.startswith(("x-stainless-", "x-sim-")):
            out[name] = "".join(rng.choice(string.ascii_letters) for _ in range(12))
    return out


CHAT = b'{"model": "llama-3.1-8b-instant", "messages": [{"role": "user", "content": "hi"}]}'
STREAM = CHAT[:-1] + b', "stream": true}'
RESPONSES = b'{"model": "llama-3.1-8b-instant", "input": "hi"}'
ROUTES = [
    ("POST", "/openai/v1/chat/completions", CHAT),
    ("POST", "/v1/chat/completions", STREAM),
    ("POST", "/openai/v1/responses", RESPONSES),
    ("GET", "/openai/v1/files", b""),
    ("GET", "/openai/v1/batches", b""),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_only_allow_listed_headers_reach_groq(
    gateway: RunningGateway, method: str, path: str, body: bytes
) -> None:
    others = {**ISSUE_HEADERS, **_random_headers(len(path))}
    headers = {
        **others,
        **ALLOWED,
        "authorization": f"Bearer {gateway.key('analytics')}",
        "content-type": "application/json",
    }
    gateway.simulator.state.reset()
    resp = httpx.request(method, gateway.url + path, headers=headers, content=body or None)
    assert resp.status_code == 200, resp.text
    seen = gateway.simulator.state.requests()
    assert len(seen) == 1
    upstream = seen[0].headers
    leaked = sorted(set(others) & set(upstream))
    assert leaked == [], f"sent to Groq: {leaked}"
    for name, value in ALLOWED.items():
        assert upstream.get(name) == value, name
    assert upstream["authorization"].startswith("Bearer gsk_test_analytics")
    assert not any(v == ISSUE_HEADERS["x-admin-key"] for v in upstream.values())


def test_forward_headers_is_an_allow_list() -> None:
    raw = [(k.encode(), v.encode()) for k, v in {**ISSUE_HEADERS, **ALLOWED}.items()]
    raw.append((b"content-type", b"multipart/form-data; boundary=x"))
    out = forward_headers(raw, "gsk_up")
    assert out == {
        "authorization": "Bearer gsk_up",
        **ALLOWED,
        "content-type": "multipart/form-data; boundary=x",
    }
