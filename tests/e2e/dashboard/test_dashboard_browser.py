"""The dashboard in Debian's Chromium (Playwright): log in, compare numbers with the ledger."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, sync_playwright

from teamgate.budget import month_of
from teamgate.ledger import open_store
from teamgate.pricing.money import format_usd
from teamgate.simulator import Simulator
from tests.conftest import RunningGateway
from tests.support.admin_gateway import (
    ADMIN_KEY,
    admin_gateway,
    chat,
    flushed_records,
    start_admin_gateway,
    traffic,
)
from tests.support.browser import ARGS, ROOT, chromium_path, page_errors
from tests.support.ledger_records import make_record

__all__ = ["admin_gateway", "chromium_path"]  # fixtures, from tests/support

DOCS = ROOT / "docs"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


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


def _sign_in(page: Page, url: str) -> None:
    page.goto(url + "/dashboard")
    assert page.url.endswith("/dashboard/login")
    page.fill("input[name=key]", ADMIN_KEY)
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-loaded=true]", state="attached", timeout=10_000)


def _until(page: Page, js: str, arg: Any = None, timeout_s: float = 15.0) -> None:
    """Wait until ``js`` (a function of ``arg``) is true in the page. Polled from here:
    Playwright's own wait_for_function evaluates strings, which the page's CSP forbids."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(js, arg):
        assert time.monotonic() < deadline, f"timed out waiting for {js}"
        time.sleep(0.05)


def _axe(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    assert AXE.exists(), "run scripts/bootstrap (npm ci installs axe-core)"
    page.evaluate(AXE.read_text())  # run by the debugger protocol: the page's CSP stays on
    result = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        {"id": v["id"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


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
            errors = page_errors(page)
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
            # The page writes money as the CLI does (thousands separators, sub-cent visible).
            for team, pico in spent.items():
                cell = page.inner_text(f"#budget tr[data-team={team}] td.spent")
                assert cell == format_usd(pico), (team, cell)
            assert page.inner_text("#budget tr[data-team=org] td.spent") == format_usd(
                sum(spent.values())
            )
            assert page.inner_text("#budget tr[data-team=chatbot] td.budget") == "$200.00"
            for sample in (1, 98_000_000, 4_999_999_999, 1_234_567_891 * 10**9, 0):
                text = f"{Decimal(sample) / 10**12:.12f}"
                assert page.evaluate(f"usd('{text}')") == format_usd(sample)
            runs_out = page.inner_text("#budget tr[data-team=analytics] td.runs-out")
            assert runs_out == "lasts the month" or runs_out.startswith("20")
            # 50/80/95 % markers and a legend that explains the colours.
            assert page.locator("#budget-chart line.marker").count() == 3 * 4
            assert "50 / 80 / 95 % of budget" in page.inner_text("#budget-legend")
            label = page.get_attribute("#budget-chart svg", "aria-label") or ""
            assert "chatbot: $12.35 of $200.00" in label  # the chart's text alternative
            # Per-team refusals by reason.
            assert "budget 1" in page.inner_text("#team-table tr[data-team=analytics] td.reasons")
            assert "model_not_allowed" in page.inner_text(
                "#team-table tr[data-team=analytics] td.reasons"
            )
            # The keys view: tg_ keys with their figures.
            key_row = page.locator("#key-table tr[data-key=chatbot-prod-test]")
            assert key_row.locator("td.state").inner_text() == "active"
            assert page.locator("#key-table td.actions").count() >= 4  # room for row actions
            # Models over time: a never-allowed model is not in the mix.
            assert "no-such-model" not in page.inner_text("#model-table")
            assert page.locator("#model-chart svg rect").count() >= 2
            assert page.inner_text(
                "#upstream-table tr[data-key=chatbot-prod-2026-04] td.state"
            ) == ("active")
            assert _axe(page) == []
            # The time-range picker: the URL carries the view; the figures follow it.
            page.select_option("#range", "7d")
            page.select_option("#scope", "team:analytics")
            page.click("#view button[type=submit]")
            _until(page, "() => location.search.includes('range=7d')")
            _until(page, "() => document.getElementById('updated').textContent.includes('7 days')")
            assert "scope=team%3Aanalytics" in page.url
            assert page.locator("#team-table tbody tr").count() == 1
            assert page.is_hidden("#upstream")
            page.select_option("#range", "custom")
            assert page.is_visible("#from") and page.is_visible("#to")
            page.select_option("#range", "month")
            page.select_option("#scope", "org")
            page.click("#view button[type=submit]")
            _until(page, "() => location.search.includes('range=month')")
            # The request log: filter, then export what is shown as CSV.
            page.fill("#log-filters input[name=reason]", "model_not_allowed")
            page.click("#log-filters button[type=submit]")
            _until(
                page,
                "() => { const rows = [...document.querySelectorAll('#log-table tbody tr')];"
                " return rows.length >= 1 && rows.every(r => r.dataset.status === '403'); }",
            )
            with page.expect_download() as download:
                page.click("#log-csv")
            exported = Path(download.value.path()).read_text()
            assert exported.splitlines()[0].startswith("ts,request_id")
            assert len(exported.splitlines()) - 1 == page.locator("#log-table tbody tr").count()
            assert all("model_not_allowed" in line for line in exported.splitlines()[1:])
            # Auto-refresh: new spend appears without reloading the page.
            assert chat(admin_gateway, admin_gateway.key("chatbot", "prod")) == 200
            before = page.inner_text("#updated")
            _until(page, "prev => document.getElementById('updated').textContent !== prev", before)
            shot = tmp_path / "dashboard-1280.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            if os.environ.get("TEAMGATE_UPDATE_SCREENSHOT"):  # refresh the docs' pictures
                shutil.copyfile(shot, DOCS / "dashboard-1280.png")
            # A failed refresh keeps the figures and marks them stale.
            page.route("**/dashboard/api/**", lambda route: route.abort())
            page.wait_for_selector("body.stale", state="attached", timeout=15_000)
            assert page.inner_text("#updated").startswith("Stale: showing data from")
            assert page.inner_text("#budget tr[data-team=chatbot] td.budget") == "$200.00"
            page.unroute("**/dashboard/api/**")
            # Sign out ends the session: the JSON is refused to the old cookie.
            page.click("header .signout button[type=submit]")
            assert page.url.endswith("/dashboard/login")
            assert _axe(page) == []
            gone = httpx.get(
                admin_gateway.url + "/dashboard/api/overview",
                cookies={"tg_session": cookie["value"]},
            )
            assert gone.status_code == 401
        finally:
            browser.close()


def test_phone_layout_stacks_without_horizontal_scroll(
    admin_gateway: RunningGateway, chromium_path: str, tmp_path: Path
) -> None:
    traffic(admin_gateway)
    add_spend(admin_gateway)
    flushed_records(admin_gateway)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
            )
            page = context.new_page()
            errors = page_errors(page)
            page.goto(admin_gateway.url + "/dashboard/login")
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            assert _axe(page) == []
            _sign_in(page, admin_gateway.url)
            assert errors == []
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            # Sections stack: each starts below the previous one, at the same left edge.
            boxes = [
                page.locator(f"#{s}").bounding_box()
                for s in (
                    "overview",
                    "teams",
                    "keys",
                    "models",
                    "attribution",
                    "upstream",
                    "requests",
                )
            ]
            assert all(b is not None for b in boxes)
            lefts = {round(b["x"]) for b in boxes if b}
            assert len(lefts) == 1
            tops = [b["y"] for b in boxes if b]
            assert tops == sorted(tops)
            # Chart text stays readable: 12 CSS px, not scaled down with the SVG.
            size = page.evaluate(
                "parseFloat(getComputedStyle(document.querySelector('#budget-chart svg text'))"
                ".fontSize) * document.querySelector('#budget-chart svg').getBoundingClientRect()"
                ".width / document.querySelector('#budget-chart svg').viewBox.baseVal.width"
            )
            assert size >= 11
            # Top end users: requests without one are "(none)", then the total line.
            users = page.locator("#user-table tbody tr").all_inner_texts()
            assert users[0].startswith("(none)") and users[-1].startswith("total"), users
            assert _axe(page) == []
            shot = tmp_path / "dashboard-390.png"
            page.screenshot(path=str(shot), full_page=True)
            if os.environ.get("TEAMGATE_UPDATE_SCREENSHOT"):
                shutil.copyfile(shot, DOCS / "dashboard-390.png")
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


def test_an_admin_pauses_a_team_from_the_page_and_resumes_it(
    admin_gateway: RunningGateway, chromium_path: str
) -> None:
    """The pauses section: the form pauses team chatbot (its clients get 403
    ``scope_paused`` at once), the listing shows the pause, resume lifts it; the key
    view's Actions column offers the key actions; each action leaves an audit row."""
    gw = admin_gateway
    key = gw.key("chatbot", "prod")
    assert chat(gw, key) == 200
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1100})
            errors = page_errors(page)
            _sign_in(page, gw.url)
            assert page.is_visible("#pause-form")
            assert "nothing is paused" in page.inner_text("#pause-table")
            # the key view's Actions column: rotate, revoke, pause on each key for an admin
            actions = page.locator("#key-table tr[data-key=chatbot-prod-test] td.actions button")
            assert actions.all_inner_texts() == ["rotate", "revoke", "pause"]
            page.select_option("#pause-form select[name=kind]", "team")
            page.select_option("#pause-form select[name=team]", "chatbot")
            page.fill("#pause-form input[name=reason]", "runaway job")
            page.fill("#pause-form input[name=until]", "2h")
            page.click("#pause-form button[type=submit]")
            row = "#pause-table tr[data-scope='team:chatbot']"
            page.wait_for_selector(row, timeout=10_000)
            assert page.inner_text(f"{row} td.state") == "paused"
            assert "runaway job" in page.inner_text(row)
            assert page.inner_text("#action-status") == "pause team:chatbot: done"
            resp = httpx.post(
                gw.url + "/openai/v1/chat/completions",
                headers={"Authorization": f"Bearer {key}"},
                json={
                    "model": "llama-3.1-8b-instant",
                    "messages": [{"role": "user", "content": "hi"}],
                },
            )
            assert resp.status_code == 403 and resp.json()["error"]["code"] == "scope_paused"
            assert _axe(page) == []
            page.click(f"{row} td.actions button[data-action=resume]")
            _until(
                page,
                "() => !document.querySelector(\"#pause-table tr[data-scope='team:chatbot']\")",
            )
            assert chat(gw, key) == 200
            assert errors == []
        finally:
            browser.close()
    with httpx.Client(base_url=gw.url, headers={"authorization": f"Bearer {ADMIN_KEY}"}) as c:
        entries = c.get("/admin/audit", params={"limit": 20}).json()["entries"]
    done = [(e["action"], e["target"]) for e in entries]
    assert ("pause", "team:chatbot") in done and ("resume", "team:chatbot") in done
