"""AlertManager: once per threshold per period (across restarts), log levels, webhook."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest
from aiohttp import web

from teamgate.budget import BudgetBook
from teamgate.config.schema import AlertSettings
from teamgate.observability.alerts import AlertManager
from tests.support.alert_fakes import HOOK, FakeAlertStore, RecordingPoster, make_settings
from tests.support.ports import free_port

USD = 10**12


def alert_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "teamgate.alerts"]


async def test_each_threshold_fires_once_with_the_right_level_and_json(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    poster = RecordingPoster()
    alerts = AlertManager(make_settings(), FakeAlertStore(), http_post=poster, clock=lambda: 5.0)
    await alerts.check("team:chatbot", "2026-11", 90 * USD, 200 * USD)  # 45 %: nothing
    await alerts.check("team:chatbot", "2026-11", 160 * USD, 200 * USD)  # 50 % and 80 %
    await alerts.check("team:chatbot", "2026-11", 170 * USD, 200 * USD)  # nothing new
    await alerts.check("team:chatbot", "2026-11", 190 * USD, 200 * USD)  # 95 %
    await alerts.check("team:chatbot", "2026-11", 250 * USD, 200 * USD)  # nothing new
    await alerts.flush()

    logs = alert_records(caplog)
    assert [(r.levelno, r.getMessage()) for r in logs] == [
        (
            logging.WARNING,
            "teamgate: team `chatbot` has used 50% of its monthly budget: "
            "$160.00 of $200.00 (2026-11).",
        ),
        (
            logging.WARNING,
            "teamgate: team `chatbot` has used 80% of its monthly budget: "
            "$160.00 of $200.00 (2026-11).",
        ),
        (
            logging.ERROR,
            "teamgate: team `chatbot` has used 95% of its monthly budget: "
            "$190.00 of $200.00 (2026-11).",
        ),
    ]
    assert [url for url, _ in poster.calls] == [HOOK] * 3
    assert poster.payloads[1] == {
        "event": "budget_threshold",
        "text": "teamgate: team `chatbot` has used 80% of its monthly budget: "
        "$160.00 of $200.00 (2026-11).",
        "kind": "budget_threshold",
        "scope": "team:chatbot",
        "team": "chatbot",
        "threshold": "0.8",
        "spent_usd": "160.000000000000",
        "budget_usd": "200.000000000000",
        "period": "2026-11",
        "ts": 5.0,
    }
    await alerts.close()


async def test_once_per_period_across_a_restart(caplog: pytest.LogCaptureFixture) -> None:
    store = FakeAlertStore()
    first = AlertManager(make_settings(), store, http_post=RecordingPoster())
    await first.check("org", "2026-11", 960 * USD, 1000 * USD)
    await first.close()
    assert store.fired == {("org", "2026-11", t) for t in ("0.5", "0.8", "0.95")}

    caplog.clear()
    poster = RecordingPoster()
    restarted = AlertManager(make_settings(), store, http_post=poster)
    await restarted.check("org", "2026-11", 980 * USD, 1000 * USD)
    await restarted.flush()
    assert alert_records(caplog) == []
    assert poster.calls == []

    await restarted.check("org", "2026-12", 600 * USD, 1000 * USD)  # a new month fires again
    await restarted.flush()
    assert [p["threshold"] for p in poster.payloads] == ["0.5"]
    assert poster.payloads[0]["team"] is None
    assert str(poster.payloads[0]["text"]).startswith("teamgate: the organization has used 50%")
    await restarted.close()


async def test_team_and_org_thresholds_override_the_defaults() -> None:
    settings = make_settings(
        team_thresholds=(Decimal("0.25"), Decimal("0.9")), org_thresholds=(Decimal("0.7"),)
    )
    poster = RecordingPoster()
    alerts = AlertManager(settings, FakeAlertStore(), http_post=poster)
    assert alerts.thresholds_for("team:other") == AlertSettings().thresholds
    await alerts.check("team:chatbot", "2026-11", 120 * USD, 200 * USD)  # 60 %
    await alerts.check("org", "2026-11", 600 * USD, 1000 * USD)  # 60 %: below 70 %
    await alerts.flush()
    assert [(p["scope"], p["threshold"]) for p in poster.payloads] == [("team:chatbot", "0.25")]
    await alerts.close()


async def test_without_webhook_only_logs(caplog: pytest.LogCaptureFixture) -> None:
    poster = RecordingPoster()
    alerts = AlertManager(make_settings(webhook=None), FakeAlertStore(), http_post=poster)
    await alerts.check("team:chatbot", "2026-11", 100 * USD, 200 * USD)
    await alerts.flush()
    assert len(alert_records(caplog)) == 1
    assert poster.calls == []
    await alerts.close()


async def test_failing_webhook_is_retried_with_backoff_and_never_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    poster = RecordingPoster([500, OSError(f"cannot connect to {HOOK}"), 200])
    alerts = AlertManager(make_settings(), FakeAlertStore(), http_post=poster, retry_base_s=0.001)
    await alerts.check("team:chatbot", "2026-11", 100 * USD, 200 * USD)
    await alerts.flush()
    assert len(poster.calls) == 3
    assert poster.payloads[0] == poster.payloads[2]
    retries = [r.getMessage() for r in alert_records(caplog) if "webhook" in r.getMessage()]
    assert retries == [
        "alert webhook failed (HTTP 500), attempt 1 of 6; retrying in 0.001 s",
        "alert webhook failed (OSError), attempt 2 of 6; retrying in 0.002 s",
    ]
    assert "very-secret-token" not in caplog.text
    await alerts.close()


async def test_webhook_gives_up_after_the_last_attempt(caplog: pytest.LogCaptureFixture) -> None:
    poster = RecordingPoster([503, 503, 503])
    alerts = AlertManager(
        make_settings(), FakeAlertStore(), http_post=poster, retry_attempts=3, retry_base_s=0
    )
    alerts.notify("upstream_key", "Groq rejected key `chatbot-prod-1`.", {"key": "chatbot-prod-1"})
    await alerts.flush()
    assert len(poster.calls) == 3
    assert poster.payloads[0]["kind"] == "upstream_key"
    assert poster.payloads[0]["key"] == "chatbot-prod-1"
    assert alert_records(caplog)[-1].getMessage() == (
        "alert webhook failed 3 times (HTTP 503); giving up"
    )
    await alerts.close()


async def test_check_returns_while_the_webhook_hangs() -> None:
    release = asyncio.Event()
    started = asyncio.Event()

    async def hanging_post(url: str, body: bytes) -> int:
        started.set()
        await release.wait()
        return 200

    alerts = AlertManager(make_settings(), FakeAlertStore(), http_post=hanging_post)
    await alerts.check("team:chatbot", "2026-11", 100 * USD, 200 * USD)
    await started.wait()  # the post is in flight, and check() has long returned
    await alerts.check("team:chatbot", "2026-11", 180 * USD, 200 * USD)  # still instant
    release.set()
    await alerts.close(timeout_s=5)


async def test_close_gives_up_on_a_hanging_webhook_after_its_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    never = asyncio.Event()

    async def hanging_post(url: str, body: bytes) -> int:
        await never.wait()
        return 200

    alerts = AlertManager(make_settings(), FakeAlertStore(), http_post=hanging_post)
    await alerts.check("team:chatbot", "2026-11", 100 * USD, 200 * USD)
    await alerts.close(timeout_s=0.05)
    assert "alerts not delivered at shutdown" in caplog.text
    await alerts.check("team:chatbot", "2026-11", 199 * USD, 200 * USD)  # ignored after close


async def test_store_failure_is_retried_on_the_next_check(caplog: pytest.LogCaptureFixture) -> None:
    store = FakeAlertStore()
    store.fail_next = 1
    poster = RecordingPoster()
    alerts = AlertManager(make_settings(), store, http_post=poster)
    await alerts.check("team:chatbot", "2026-11", 100 * USD, 200 * USD)
    await alerts.flush()
    assert poster.calls == []
    assert "could not record alert state for team:chatbot (2026-11): OSError" in caplog.text
    await alerts.check("team:chatbot", "2026-11", 101 * USD, 200 * USD)
    await alerts.flush()
    assert [p["threshold"] for p in poster.payloads] == ["0.5"]
    await alerts.close()


async def test_real_webhook_receiver_gets_the_json() -> None:
    received: list[dict[str, object]] = []
    got = asyncio.Event()

    async def receive(request: web.Request) -> web.Response:
        assert request.content_type == "application/json"
        received.append(await request.json())
        got.set()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        settings = make_settings(webhook=f"http://127.0.0.1:{port}/hook")
        alerts = AlertManager(settings, FakeAlertStore())  # the default aiohttp poster
        await alerts.check("team:chatbot", "2026-11", 161 * USD, 200 * USD)
        await alerts.close()
        assert got.is_set()
        assert [(p["threshold"], p["spent_usd"], p["budget_usd"]) for p in received] == [
            ("0.5", "161.000000000000", "200.000000000000"),
            ("0.8", "161.000000000000", "200.000000000000"),
        ]
    finally:
        await runner.cleanup()


async def test_budget_book_settles_feed_the_alerts() -> None:
    settings = make_settings()
    poster = RecordingPoster()
    alerts = AlertManager(settings, FakeAlertStore(), http_post=poster)
    book = BudgetBook(settings, clock=lambda: 1793491200.0 + 3600, on_settled=alerts.check_nowait)
    for _ in range(3):
        await (await book.reserve("chatbot", 60 * USD)).settle(60 * USD)  # 30, 60, 90 %
    await alerts.flush()
    assert [(p["scope"], p["threshold"], p["period"]) for p in poster.payloads] == [
        ("team:chatbot", "0.5", "2026-11"),
        ("team:chatbot", "0.8", "2026-11"),
    ]
    await alerts.close()
