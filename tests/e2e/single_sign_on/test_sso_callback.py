"""Single sign-on's callback against a provider whose keys the test makes: a good ID token
opens a shared session; a tampered one, a wrong nonce, an expired one (and the other
broken bindings) are each refused, with no session and no audit row; key rotation."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from teamgate.dashboard.oidc import OidcClient, SignInRefused, pkce_challenge
from teamgate.http.serving import ServerThread
from teamgate.ledger import open_store
from teamgate.ledger.audit_records import AuditEntry
from teamgate.simulator import Simulator
from tests.conftest import RunningGateway, start_gateway
from tests.e2e.single_sign_on.fake_idp import FakeIdp, SigningKey
from tests.support.admin_gateway import ADMIN_KEY

CLIENT_SECRET = "oidc-client-secret-for-tests-0001"


@pytest.fixture
def idp() -> Iterator[FakeIdp]:
    provider = FakeIdp()
    with ServerThread(provider) as url:
        provider.issuer = url
        yield provider


@pytest.fixture
def gw(simulator: Simulator, tmp_path: Path, idp: FakeIdp) -> Iterator[RunningGateway]:
    patch = {
        "dashboard": {
            "oidc": {
                "issuer": idp.issuer,
                "client_id": idp.client_id,
                "client_secret": "env:OIDC_SECRET",
                "redirect_url": "http://127.0.0.1/dashboard/oidc/callback",
                "provider_name": "Test IdP",
                "roles": {"platform": "admin", "chatbot-leads": "team-admin:chatbot"},
            }
        }
    }
    env = {"TEAMGATE_ADMIN_KEY": ADMIN_KEY, "OIDC_SECRET": CLIENT_SECRET}
    yield from start_gateway(simulator, tmp_path, patch, env=env)


def begin(client: httpx.Client) -> dict[str, str]:
    """Press "Sign in with …": the query the browser is sent to the provider with."""
    assert (
        'href="/dashboard/oidc/start">Sign in with Test IdP' in client.get("/dashboard/login").text
    )
    resp = client.get("/dashboard/oidc/start")
    assert resp.status_code == 303
    flow = resp.headers["set-cookie"]
    assert "HttpOnly" in flow and "SameSite=Lax" in flow and "Path=/dashboard/oidc" in flow
    return {k: v[-1] for k, v in parse_qs(urlsplit(resp.headers["location"]).query).items()}


def audit_rows(gw: RunningGateway) -> list[AuditEntry]:
    async def read() -> list[AuditEntry]:
        store = open_store(gw.settings.storage.url)
        await store.open()
        try:
            return list(await store.audit_entries())
        finally:
            await store.close()

    return asyncio.run(read())


def test_a_good_id_token_opens_a_session_seen_as_the_user(gw: RunningGateway, idp: FakeIdp) -> None:
    with httpx.Client(base_url=gw.url) as client:
        query = begin(client)
        assert (query["response_type"], query["client_id"], query["code_challenge_method"]) == (
            "code",
            idp.client_id,
            "S256",
        )
        assert query["scope"] == "openid email profile"
        idp.tokens["code-1"] = idp.id_token(query["nonce"], groups=["chatbot-leads", "other"])
        resp = client.get(f"/dashboard/oidc/callback?code=code-1&state={query['state']}")
        assert resp.status_code == 200, resp.text
        assert 'http-equiv=refresh content="0;url=/dashboard"' in resp.text
        session = client.cookies["tg_session"]
        # PKCE: the verifier sent with the code is the one whose S256 went to the provider
        sent = idp.token_requests[-1]
        assert pkce_challenge(sent["code_verifier"]) == query["code_challenge"]
        assert sent["grant_type"] == "authorization_code" and "client_secret" not in sent
        # a team admin of chatbot: its team only
        teams = client.get("/dashboard/api/teams?scope=team:chatbot").json()
        assert {row["team"] for row in teams["teams"]} == {"chatbot"}
        assert client.get("/dashboard/api/teams?scope=team:research").status_code == 403
        assert client.get("/dashboard/api/teams").status_code == 403  # the org scope
    rows = audit_rows(gw)
    assert [(r.actor, r.action) for r in rows] == [("sso:ana@example.com", "dashboard.sign_in")]
    text = json.dumps([r.as_json() for r in rows])
    for secret in (session, CLIENT_SECRET, idp.tokens["code-1"], "code-1"):
        assert secret not in text


def _tampered(idp: FakeIdp, nonce: str) -> str:
    """A token of a user with no role whose payload now claims the admin group."""
    header, payload, signature = idp.id_token(nonce, groups=["finance"]).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["groups"] = ["platform"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


NOW = int(time.time())
BAD_TOKENS: list[tuple[str, Any, str]] = [
    ("tampered", _tampered, "signature does not verify"),
    ("wrong nonce", lambda idp, nonce: idp.id_token("someone-elses-nonce"), "nonce"),
    ("expired", lambda idp, n: idp.id_token(n, iat=NOW - 7200, exp=NOW - 3600), "expired"),
    ("another client", lambda idp, n: idp.id_token(n, aud="other-app"), "another client"),
    ("another issuer", lambda idp, n: idp.id_token(n, iss="https://evil.example"), "issuer"),
    (
        "unpublished key",
        lambda idp, n: idp.id_token(n, key=SigningKey("k9")),
        "key the provider does not publish",
    ),
    ("issued in the future", lambda idp, n: idp.id_token(n, iat=NOW + 3600), "future"),
    ("no role", lambda idp, n: idp.id_token(n, groups=["finance"]), "has no role in teamgate"),
]


@pytest.mark.parametrize(("make", "reason"), [pytest.param(m, r, id=i) for i, m, r in BAD_TOKENS])
def test_a_bad_id_token_is_refused(
    gw: RunningGateway, idp: FakeIdp, make: Any, reason: str
) -> None:
    with httpx.Client(base_url=gw.url) as client:
        query = begin(client)
        idp.tokens["code-2"] = make(idp, query["nonce"])
        resp = client.get(f"/dashboard/oidc/callback?code=code-2&state={query['state']}")
        assert resp.status_code == 401
        assert "Single sign-on failed" in resp.text and reason in resp.text
        assert "tg_session" not in client.cookies
        assert client.get("/dashboard/api/teams?scope=team:chatbot").status_code == 401
        assert idp.tokens["code-2"] not in resp.text
    assert audit_rows(gw) == []


@pytest.mark.parametrize(
    ("callback", "reason"),
    [
        ("state=not-the-state&code=code-3", "state is not this browser"),
        ("error=access_denied&state={state}", "did not sign you in (access_denied)"),
        ("state={state}", "has no code"),
        ("state={state}&code=code-3&iss=https://evil.example", "from another issuer"),
    ],
)
def test_a_broken_answer_is_refused(
    gw: RunningGateway, idp: FakeIdp, callback: str, reason: str
) -> None:
    with httpx.Client(base_url=gw.url) as client:
        query = begin(client)
        idp.tokens["code-3"] = idp.id_token(query["nonce"])
        resp = client.get("/dashboard/oidc/callback?" + callback.format(state=query["state"]))
        assert resp.status_code == 401 and reason in resp.text
        assert "tg_session" not in client.cookies


def test_a_callback_without_the_flow_cookie_is_refused(gw: RunningGateway, idp: FakeIdp) -> None:
    with httpx.Client(base_url=gw.url) as client:
        query = begin(client)
    idp.tokens["code-4"] = idp.id_token(query["nonce"])
    with httpx.Client(base_url=gw.url) as other_browser:
        resp = other_browser.get(f"/dashboard/oidc/callback?code=code-4&state={query['state']}")
        assert resp.status_code == 401 and "another browser" in resp.text


async def test_a_rotated_key_is_fetched_and_unknown_kids_do_not_flood(idp: FakeIdp) -> None:
    now = [time.time()]
    client = OidcClient(
        idp.issuer,
        idp.client_id,
        None,
        "http://127.0.0.1/dashboard/oidc/callback",
        ("openid",),
        clock=lambda: now[0],
    )
    assert (await client.verify(idp.id_token("n1"), "n1"))["sub"] == "user-1"
    assert idp.jwks_fetches == 1
    await client.verify(idp.id_token("n2"), "n2")
    assert idp.jwks_fetches == 1  # cached
    rotated = SigningKey("k2")
    idp.keys.append(rotated)
    now[0] += 31
    assert (await client.verify(idp.id_token("n3", key=rotated), "n3"))["sub"] == "user-1"
    assert idp.jwks_fetches == 2  # the unknown kid fetched the JWKS again
    for _ in range(3):  # a forged kid right after: refused without asking the provider again
        with pytest.raises(SignInRefused, match="does not publish"):
            await client.verify(idp.id_token("n4", key=SigningKey("forged")), "n4")
    assert idp.jwks_fetches == 2


async def test_none_and_hmac_algorithms_are_refused(idp: FakeIdp) -> None:
    client = OidcClient(idp.issuer, idp.client_id, None, "http://x/cb", ("openid",))
    claims = {"iss": idp.issuer, "aud": idp.client_id, "sub": "u", "nonce": "n"}
    claims |= {"iat": int(time.time()), "exp": int(time.time()) + 60}
    for token in (
        jwt_encode(claims, "none"),
        jwt_encode(claims, "HS256", key=json.dumps(idp.keys[0].jwk())),
    ):
        with pytest.raises(SignInRefused, match="algorithm"):
            await client.verify(token, "n")


def jwt_encode(claims: dict[str, Any], alg: str, key: str = "") -> str:
    """A token signed by hand (PyJWT itself refuses to HMAC with a public key)."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    signing_input = f"{b64(json.dumps({'alg': alg, 'kid': 'k1'}).encode())}." + b64(
        json.dumps(claims).encode()
    )
    if alg == "none":
        return signing_input + "."
    mac = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"
