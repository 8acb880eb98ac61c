"""The dashboard in Debian's Chromium (Playwright): log in, compare numbers with the ledger."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright
from tests.admin.conftest import (
    ADMIN_KEY,
    admin_gateway,
    chat,
    flushed_records,
    start_admin_gateway,
    traffic,
)
from tests.conftest import RunningGateway
from tests.ledger.conftest import make_record

from teamgate.budget import month_of
from teamgate.ledger import open_store
from teamgate.simulator import Simulator

__all__ = ["admin_gateway"]  # the fixture, shared with tests/admin

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"


def cents(pico: int) -> str:
    return "$" + str((Decimal(pico) / 10**12).quantize(Decimal("0.01"), ROUND_HALF_UP))


def add_spend(gw: RunningGateway) -> None:
    """Records with visible dollar amounts this month, written straight into the ledger."""
    now = time.time()
    extra = [
        make_record(now - 60, team="chatbot", cost_pusd=12_345_678_901_234, request_id="d1"),
        make_record(
            now - 30,
            team="research",
            cost_pusd=87_654_321_000_000,
            model_served="llama-3.3-70b-versatile",
            request_id="d2",
        ),
        make_record(now - 20, team="analytics", cost_pusd=4_994_999_999_999, request_id="d3"),
        make_record(
            now - 10,
            team="analytics",
            cost_pusd=0,
            refusal="budget",
            status=429,
            model_served="",
            request_id="d4",
        ),
    ]

    async def write() -> None:
        store = open_store(gw.settings.storage.url)
        await store.open()
        try:
            await store.append_usage(extra)
        finally:
            await store.close()

    asyncio.run(write())


@pytest.fixture(scope="module")
def chromium_path() -> str:
    assert Path(CHROMIUM).exists(), "install Debian's chromium: apt-get install -y chromium"
    return CHROMIUM


def test_dashboard_login_numbers_and_screenshot(
    admin_gateway: RunningGateway, chromium_path: str, tmp_path: Path
) -> None:
    traffic(admin_gateway)
    add_spend(admin_gateway)
    records = flushed_records(admin_gateway)
    month = month_of(time.time(), "UTC")
    spent = {team: 0 for team in admin_gateway.settings.teams}
    for r in records:
        if month.contains(r.ts):
            spent[r.team] += r.cost_pusd
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1100})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on(
                "console",
                lambda msg: (
                    errors.append(msg.text)
                    if msg.type == "error" and "Failed to load resource" not in msg.text
                    else None
                ),
            )
            page.goto(admin_gateway.url + "/dashboard")
            assert page.url.endswith("/dashboard/login")
            page.fill("input[name=key]", "not-the-key")
            page.click("button[type=submit]")
            assert "Wrong admin key" in page.inner_text(".error")
            page.fill("input[name=key]", ADMIN_KEY)
            page.click("button[type=submit]")
            try:
                page.wait_for_selector("body[data-loaded=true]", state="attached", timeout=10_000)
            except Exception:
                raise AssertionError(str(errors) + page.content()[:3000]) from None
            assert errors == []
            assert page.url.endswith("/dashboard")
            cookie = next(c for c in page.context.cookies() if c["name"] == "tg_session")
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
            for team, pico in spent.items():
                cell = page.inner_text(f"tr[data-team={team}] td.spent")
                assert cell == cents(pico), (team, cell)
            assert page.inner_text("tr[data-team=org] td.spent") == cents(sum(spent.values()))
            assert page.inner_text("tr[data-team=chatbot] td.budget") == "$200.00"
            # analytics spent $4.99 of $50 with most of the month maybe left: a run-out date or not.
            runs_out = page.inner_text("tr[data-team=analytics] td.runs-out")
            assert runs_out == "lasts the month" or runs_out.startswith("20")
            assert page.locator("#model-chart svg rect").count() >= 2
            assert "budget" in page.inner_text("#refusal-chart")
            assert page.inner_text("tr[data-key=chatbot-prod-2026-04] td.state") == "active"
            # Auto-refresh: new spend appears without reloading the page.
            assert chat(admin_gateway, admin_gateway.key("chatbot", "prod")) == 200
            before = page.inner_text("#updated")
            page.wait_for_function(
                "prev => document.getElementById('updated').textContent !== prev",
                arg=before,
                timeout=15_000,
            )
            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            if os.environ.get("TEAMGATE_UPDATE_SCREENSHOT"):  # refresh the README's picture
                shutil.copyfile(shot, DOCS_SCREENSHOT)
            # Sign out ends the session: the JSON is refused to the old cookie.
            page.click("header button[type=submit]")
            assert page.url.endswith("/dashboard/login")
            gone = httpx.get(
                admin_gateway.url + "/admin/overview",
                cookies={"tg_session": cookie["value"]},
            )
            assert gone.status_code == 401
        finally:
            browser.close()


def test_login_needs_the_csrf_cookie(admin_gateway: RunningGateway) -> None:
    resp = httpx.post(
        admin_gateway.url + "/dashboard/login", data={"key": ADMIN_KEY, "csrf": "forged"}
    )
    assert resp.status_code == 401 and "tg_session" not in resp.headers.get("set-cookie", "")


def test_x_forwarded_proto_from_an_untrusted_peer_is_not_believed(
    admin_gateway: RunningGateway,
) -> None:
    form = httpx.get(admin_gateway.url + "/dashboard/login", headers={"x-forwarded-proto": "https"})
    assert "Secure" not in form.headers["set-cookie"]


@pytest.fixture
def proxied_gateway(simulator: Simulator, tmp_path: Path) -> Iterator[RunningGateway]:
    """Behind a TLS-terminating proxy on 127.0.0.1, which the config trusts."""
    patch = {"server": {"trusted_proxies": ["127.0.0.1"]}}
    yield from start_admin_gateway(simulator, tmp_path, patch)


def test_session_cookie_is_secure_behind_tls(proxied_gateway: RunningGateway) -> None:
    admin_gateway = proxied_gateway
    with httpx.Client(base_url=admin_gateway.url, headers={"x-forwarded-proto": "https"}) as c:
        form = c.get("/dashboard/login")
        csrf = form.text.split('name=csrf value="')[1].split('"')[0]
        login_cookie = form.headers["set-cookie"]
        assert "Secure" in login_cookie and "HttpOnly" in login_cookie
        c.cookies.clear()  # a Secure cookie is not sent over plain http: send it by hand
        resp = c.post(
            "/dashboard/login",
            data={"key": ADMIN_KEY, "csrf": csrf},
            headers={"cookie": login_cookie.split(";")[0]},
        )
    assert resp.status_code == 303
    cookie = next(
        v for k, v in resp.headers.multi_items() if k == "set-cookie" and "tg_session=" in v
    )
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" in cookie
    # A session cookie admits only reads: a POST with it still needs the admin key.
    token = cookie.split(";")[0].split("=", 1)[1]
    post = httpx.post(admin_gateway.url + "/admin/reload", cookies={"tg_session": token})
    assert post.status_code == 401
