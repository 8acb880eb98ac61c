"""Single sign-on end to end: a real OpenID Connect provider (the certified `oidc-provider`
from npm, started here on a free port) and Debian's Chromium (Playwright). An admin and a
team admin each sign in through the provider; each sees what the role allows; the admin's
session works on a second gateway instance sharing the store; signing out is audited."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from teamgate.app import create_app
from teamgate.config.schema import OidcSettings
from teamgate.http.serving import ServerThread
from teamgate.ledger import open_store
from teamgate.ledger.audit_records import AuditEntry
from teamgate.simulator import Simulator
from tests.conftest import UPSTREAM_SECRETS, RunningGateway, start_gateway
from tests.support.admin_gateway import ADMIN_KEY
from tests.support.browser import ARGS, ROOT, chromium_path, page_errors
from tests.support.ports import free_port

__all__ = ["chromium_path"]

PROVIDER = Path(__file__).with_name("oidc_provider.mjs")
CLIENT_ID = "teamgate-e2e"
CLIENT_SECRET = "teamgate-e2e-client-secret-0001"
ENV = {**UPSTREAM_SECRETS, "TEAMGATE_ADMIN_KEY": ADMIN_KEY, "OIDC_SECRET": CLIENT_SECRET}


@pytest.fixture
def issuer() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def gw(simulator: Simulator, tmp_path: Path, issuer: str) -> Iterator[RunningGateway]:
    patch = {
        "dashboard": {
            "oidc": {
                "issuer": issuer,
                "client_id": CLIENT_ID,
                "client_secret": "env:OIDC_SECRET",
                "redirect_url": "http://127.0.0.1/dashboard/oidc/callback",  # set below
                "provider_name": "Test OIDC",
                "scopes": ["openid", "email", "groups"],
                "roles": {"platform": "admin", "chatbot-leads": "team-admin:chatbot"},
            }
        }
    }
    for gw in start_gateway(simulator, tmp_path, patch, env=ENV):
        # the callback URL is known once the gateway listens (as with `teamgate reload`)
        gw.settings = _with_redirect(gw.settings, gw.url + "/dashboard/oidc/callback")
        gw.app.gateway.apply(gw.settings)
        yield gw


def _with_redirect(settings, url: str):  # type: ignore[no-untyped-def]
    oidc = settings.dashboard.oidc
    assert isinstance(oidc, OidcSettings)
    dashboard = dataclasses.replace(
        settings.dashboard, oidc=dataclasses.replace(oidc, redirect_url=url)
    )
    return dataclasses.replace(settings, dashboard=dashboard)


@pytest.fixture
def provider(gw: RunningGateway, issuer: str) -> Iterator[str]:
    node = shutil.which("node")
    assert node, "install Node.js (Debian's nodejs) for the single sign-on test"
    assert (ROOT / "node_modules" / "oidc-provider").exists(), "run scripts/bootstrap (npm ci)"
    process = subprocess.Popen(
        [node, str(PROVIDER), issuer, gw.url + "/dashboard/oidc/callback", CLIENT_ID,
         CLIENT_SECRET],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        yield issuer
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def sign_in_through_the_provider(page: Page, gateway_url: str, user: str) -> None:
    page.goto(gateway_url + "/dashboard")
    assert page.url.endswith("/dashboard/login")
    page.click("#sso")  # "Sign in with Test OIDC"
    page.wait_for_selector("input[name=login]")
    assert not page.url.startswith(gateway_url)  # at the provider
    page.fill("input[name=login]", user)
    page.fill("input[name=password]", "any password")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    if not page.url.startswith(gateway_url):  # the provider's consent prompt
        page.click("button[type=submit]")
    page.wait_for_selector("body[data-loaded=true]", state="attached", timeout=15_000)
    assert page.url == gateway_url + "/dashboard"


def team_rows(page: Page) -> list[str]:
    return page.eval_on_selector_all(
        "#team-table tbody tr", "rows => rows.map(r => r.cells[0].textContent.trim())"
    )


def audit_rows(gw: RunningGateway) -> list[AuditEntry]:
    async def read() -> list[AuditEntry]:
        store = open_store(gw.settings.storage.url)
        await store.open()
        try:
            return list(await store.audit_entries())
        finally:
            await store.close()

    return asyncio.run(read())


def test_admin_and_team_admin_sign_in_through_a_real_provider(
    gw: RunningGateway, provider: str, chromium_path: str
) -> None:
    with sync_playwright() as p:
        browser: Browser = p.chromium.launch(executable_path=chromium_path, args=ARGS)
        try:
            # the admin: the organization and every team
            admin = browser.new_context().new_page()
            errors = page_errors(admin)
            sign_in_through_the_provider(admin, gw.url, "admin-user")
            options = admin.eval_on_selector_all("#scope option", "os => os.map(o => o.value)")
            assert options == ["org", "team:chatbot", "team:analytics", "team:research"]
            assert sorted(team_rows(admin)) == ["analytics", "chatbot", "research"]
            assert admin.locator("#upstream").is_visible()
            assert errors == []
            session = next(c["value"] for c in admin.context.cookies() if c["name"] == "tg_session")

            # the team admin of chatbot: that team only, never the organization
            lead = browser.new_context().new_page()
            sign_in_through_the_provider(lead, gw.url, "lead-user")
            options = lead.eval_on_selector_all("#scope option", "os => os.map(o => o.value)")
            assert options == ["team:chatbot"]
            assert team_rows(lead) == ["chatbot"]
            assert not lead.locator("#upstream").is_visible()
            answer = lead.request.get(gw.url + "/dashboard/api/teams?scope=team:research")
            assert answer.status == 403
            answer = lead.request.get(gw.url + "/dashboard/api/overview")  # the org scope
            assert answer.status == 403

            # the admin's session, made on this instance, works on a second one
            with ExitStack() as stack:
                second = stack.enter_context(ServerThread(create_app(gw.settings, env=ENV)))
                resp = httpx.get(second + "/dashboard/api/teams", cookies={"tg_session": session})
                assert resp.status_code == 200
                assert {t["team"] for t in resp.json()["teams"]} == {
                    "chatbot",
                    "analytics",
                    "research",
                }
                admin.goto(second + "/dashboard")  # the same browser, the other instance
                admin.wait_for_selector("body[data-loaded=true]", state="attached")
                assert admin.url == second + "/dashboard"
                admin.click("form.signout button[type=submit]")  # signs out everywhere
                admin.wait_for_url("**/dashboard/login")
            assert (
                httpx.get(
                    gw.url + "/dashboard/api/teams", cookies={"tg_session": session}
                ).status_code
                == 401
            )
        finally:
            browser.close()
    rows = [(r.actor, r.action) for r in reversed(audit_rows(gw))]
    assert rows == [
        ("sso:admin@example.com", "dashboard.sign_in"),
        ("sso:lead@example.com", "dashboard.sign_in"),
        ("sso:admin@example.com", "dashboard.sign_out"),
    ]
