"""Every refusal is Groq-shaped JSON with the status Groq would use."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import RunningGateway


def post(
    gw: RunningGateway,
    key: str | None,
    content: bytes,
    path: str = "/openai/v1/chat/completions",
    **headers: str,
) -> httpx.Response:
    h = {"content-type": "application/json", **headers}
    if key:
        h["authorization"] = f"Bearer {key}"
    return httpx.post(gw.url + path, content=content, headers=h, timeout=10)


def assert_groq_error(resp: httpx.Response, status: int, code: str) -> str:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/json"
    body = resp.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "code"}
    assert body["error"]["code"] == code
    return str(body["error"]["message"])


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"not json", "invalid_json"),
        (b"[1, 2]", "invalid_json"),
        (b'"text"', "invalid_json"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "invalid_request"),
        (b'{"model": "llama-3.1-8b-instant"}', "invalid_request"),
        (
            b'{"model": "llama-3.1-8b-instant", "messages": [{"role":"user","content":"x"}], '
            b'"max_completion_tokens": -5}',
            "invalid_value",
        ),
        (
            b'{"model": "llama-3.1-8b-instant", "messages": [{"role":"user","content":"x"}], '
            b'"max_tokens": "many"}',
            "invalid_type",
        ),
        (
            b'{"model": "llama-3.1-8b-instant", "messages": [{"role":"user","content":"x"}], '
            b'"max_tokens": true}',
            "invalid_type",
        ),
        (
            b'{"model": "llama-3.1-8b-instant", "messages": [{"role":"user","content":"x"}], '
            b'"n": 3}',
            "invalid_value",
        ),
    ],
)
def test_bad_bodies_are_400(gateway: RunningGateway, content: bytes, code: str) -> None:
    resp = post(gateway, gateway.key("analytics"), content)
    assert_groq_error(resp, 400, code)
    assert gateway.simulator.state.request_count() == 0


def test_body_over_limit_is_413(gateway: RunningGateway) -> None:
    big = (
        b'{"model": "x", "messages": [{"role": "user", "content": "'
        + b"a" * (11 * 1024 * 1024)
        + b'"}]}'
    )
    resp = post(gateway, gateway.key("analytics"), big)
    assert_groq_error(resp, 413, "request_too_large")


def test_unknown_paths_are_404(gateway: RunningGateway) -> None:
    for path in ("/openai/v1/nothing/here", "/v1/completions", "/elsewhere"):
        resp = post(gateway, gateway.key("analytics"), b"{}", path=path)
        message = assert_groq_error(resp, 404, "unknown_url")
        assert path in message


def test_missing_key_is_401(gateway: RunningGateway) -> None:
    resp = post(gateway, None, b'{"model": "llama-3.1-8b-instant", "messages": []}')
    assert_groq_error(resp, 401, "invalid_api_key")


def test_revoked_and_expired_keys_refused_without_restart(gateway: RunningGateway) -> None:
    body = b'{"model": "llama-3.1-8b-instant", "messages": [{"role": "user", "content": "hi"}]}'
    secret = gateway.add_key("analytics", "prod", "temp")
    deadline = time.monotonic() + 3
    while post(gateway, secret, body).status_code == 401:  # the cache picks up a new key
        assert time.monotonic() < deadline
        time.sleep(0.1)
    from teamgate.ledger import open_store
    from tests.conftest import run

    async def revoke() -> None:
        store = open_store(gateway.settings.storage.url)
        await store.open()
        await store.revoke_client_key("analytics-prod-temp", time.time())
        await store.close()

    run(revoke())
    revoked_at = time.monotonic()
    while post(gateway, secret, body).status_code == 200:
        assert time.monotonic() - revoked_at < 2.0, "revoked key still accepted after 2 s"
        time.sleep(0.05)
    assert_groq_error(post(gateway, secret, body), 401, "invalid_api_key")

    short = gateway.add_key("analytics", "prod", "short", expires_in_s=1.0)
    time.sleep(1.6)
    assert_groq_error(post(gateway, short, body), 401, "invalid_api_key")
