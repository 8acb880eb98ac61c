"""/metrics is locked by default: the admin key, the read-only metrics token, or (the
operator's choice) the admin listener alone opens it. Every answer says nosniff."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from teamgate.admin import create_admin_app
from teamgate.config.errors import ConfigError
from teamgate.config.loader import parse_settings
from teamgate.http.serving import ServerThread
from teamgate.simulator import Simulator
from tests.conftest import RunningGateway, start_gateway
from tests.support.admin_gateway import ADMIN_KEY

TOKEN = "mtok_" + "a1b2c3d4" * 5
PATCH = {"metrics": {"token_env": "TEAMGATE_METRICS_TOKEN"}}


@pytest.fixture
def mgw(simulator: Simulator, tmp_path: Path) -> Iterator[RunningGateway]:
    env = {"TEAMGATE_ADMIN_KEY": ADMIN_KEY, "TEAMGATE_METRICS_TOKEN": TOKEN}
    yield from start_gateway(simulator, tmp_path, PATCH, env=env)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"authorization": "Bearer wrong"}, 401),
        ({"authorization": TOKEN}, 401),  # not as a bearer token
        ({"x-admin-key": TOKEN}, 401),  # the metrics token is not an admin key
        ({"authorization": f"Bearer {ADMIN_KEY}"}, 200),
        ({"x-admin-key": ADMIN_KEY}, 200),
        ({"authorization": f"Bearer {TOKEN}"}, 200),
    ],
)
def test_metrics_needs_a_credential(
    mgw: RunningGateway, headers: dict[str, str], status: int
) -> None:
    resp = httpx.get(mgw.url + "/metrics", headers=headers)
    assert resp.status_code == status, resp.text
    if status == 401:
        assert resp.json()["error"]["code"] == "invalid_admin_key"
        assert "teamgate_" not in resp.text
    else:
        assert "teamgate_requests_total" in resp.text


def test_a_team_key_cannot_read_metrics(mgw: RunningGateway) -> None:
    resp = httpx.get(
        mgw.url + "/metrics", headers={"authorization": f"Bearer {mgw.key('chatbot')}"}
    )
    assert resp.status_code == 401


@pytest.mark.parametrize("path", ["/admin/keys", "/admin/budget", "/admin/openapi.json"])
def test_the_metrics_token_opens_nothing_else(mgw: RunningGateway, path: str) -> None:
    resp = httpx.get(mgw.url + path, headers={"authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 401


def test_metrics_locked_when_no_credential_is_configured(gateway: RunningGateway) -> None:
    """No admin key and no token set: /metrics is still not public."""
    assert httpx.get(gateway.url + "/metrics").status_code == 401


def test_open_on_admin_port_opens_only_the_admin_listener(
    simulator: Simulator, tmp_path: Path
) -> None:
    patch = {
        "server": {"admin_host": "127.0.0.1", "admin_port": 1},
        "metrics": {"open_on_admin_port": True},
    }
    for gw in start_gateway(simulator, tmp_path, patch, env={"TEAMGATE_ADMIN_KEY": ADMIN_KEY}):
        assert httpx.get(gw.url + "/metrics").status_code == 404  # not on the proxy's port
        with ServerThread(create_admin_app(gw.app.gateway, own_listener=True)) as admin_url:
            resp = httpx.get(admin_url + "/metrics")
            assert resp.status_code == 200 and "teamgate_requests_total" in resp.text
            assert resp.headers["x-content-type-options"] == "nosniff"
            assert httpx.get(admin_url + "/admin/keys").status_code == 401
        # The same app mounted elsewhere (not its own listener) stays locked.
        with ServerThread(create_admin_app(gw.app.gateway)) as mounted_url:
            assert httpx.get(mounted_url + "/metrics").status_code == 401


def test_open_on_admin_port_needs_an_admin_port() -> None:
    teams = {
        "ops": {
            "allowed_models": ["llama-3.1-8b-instant"],
            "max_tokens_per_request": 10,
            "environments": {"prod": {"upstream_keys": [{"name": "k", "secret": "env:K"}]}},
        }
    }
    with pytest.raises(ConfigError, match=r"metrics\.open_on_admin_port: needs server\.admin_port"):
        parse_settings({"teams": teams, "metrics": {"open_on_admin_port": True}})
    with pytest.raises(ConfigError, match=r"metrics\.token_env: must be an environment variable"):
        parse_settings({"teams": teams, "metrics": {"token_env": "not a name"}})


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", "/health", {}),
        ("GET", "/nowhere", {}),
        ("GET", "/openai/v1/models", {"team": ""}),
        ("POST", "/openai/v1/chat/completions", {"team": ""}),
        ("GET", "/openai/v1/models", {}),
        ("GET", "/admin/keys", {"admin": ""}),
        ("GET", "/admin/keys", {}),
        ("GET", "/metrics", {"admin": ""}),
        ("GET", "/dashboard/login", {}),
        ("GET", "/dashboard/static/app.js", {}),
        ("GET", "/teamgate/v1/usage", {"team": ""}),
    ],
)
def test_every_answer_says_nosniff_and_plain_http_has_no_hsts(
    mgw: RunningGateway, method: str, path: str, headers: dict[str, str]
) -> None:
    sent = {}
    if "team" in headers:
        sent["authorization"] = f"Bearer {mgw.key('analytics')}"
    if "admin" in headers:
        sent["x-admin-key"] = ADMIN_KEY
    body = b'{"model": "llama-3.1-8b-instant", "messages": [{"role": "user", "content": "x"}]}'
    resp = httpx.request(
        method, mgw.url + path, headers=sent, content=body if method == "POST" else None
    )
    assert resp.headers.get_list("x-content-type-options") == ["nosniff"], (
        resp.status_code,
        resp.headers,
    )
    assert "strict-transport-security" not in resp.headers
