"""Forecast alerts over a synthetic ledger (SQLite and PostgreSQL): one ``budget_forecast``
alert with the run-out date, none the next day at the same pace, one again when the pace
doubles; at most one a day, never past 95 %, once across instances."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import jsonschema

from teamgate.budget.forecast import ForecastWatch, budget_scopes, forecasts, runs_out_day
from teamgate.config.schema import (
    AlertSettings,
    EnvironmentConfig,
    OrgConfig,
    Settings,
    TeamConfig,
)
from teamgate.ledger.store import Store
from teamgate.observability.alert_delivery import ALERT_SCHEMA
from teamgate.observability.alerts import AlertManager
from tests.support.alert_fakes import FakeAlertStore, RecordingPoster
from tests.support.ledger_records import make_key, make_record
from tests.support.store_backends import store_fixture

USD = 10**12
HOOK = "https://hooks.example.com/services/T000/B000/secret"


def day(d: int, hour: int = 0) -> float:
    """November 2026 (30 days), UTC."""
    return datetime(2026, 11, d, hour, tzinfo=UTC).timestamp()


def settings(margin: int = 2, org_budget: str | None = None) -> Settings:
    team = TeamConfig("chatbot", ("m",), 100, monthly_budget_usd=Decimal("200"))
    return Settings(
        teams={"chatbot": team},
        alerts=AlertSettings(webhook_url=HOOK, forecast_margin_days=margin),
        org=OrgConfig(monthly_budget_usd=None if org_budget is None else Decimal(org_budget)),
    )


store = store_fixture("sqlite-memory", "postgresql")


async def spend(store: Store, on_day: int, dollars: int, team: str = "chatbot") -> None:
    await store.append_usage(
        [
            make_record(
                day(on_day, 12), team=team, cost_pusd=dollars * USD, request_id=f"{team}{on_day}"
            )
        ]
    )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def forecast_posts(poster: RecordingPoster) -> list[dict[str, object]]:
    return [p for p in poster.payloads if p["event"] == "budget_forecast"]


async def test_steady_pace_then_doubled_pace(store: Store) -> None:
    clock = Clock()
    poster = RecordingPoster()
    s = settings(margin=2)
    alerts = AlertManager(s, store, http_post=poster, clock=clock)
    watch = ForecastWatch(store, lambda: s, alerts.forecast, clock=clock)
    for d in range(1, 6):  # $10 a day against $200: the last dollar goes on day 20
        await spend(store, d, 10)

    clock.now = day(6)
    assert await watch.check_once() == 1
    await alerts.flush()
    [post] = forecast_posts(poster)
    assert post["runs_out_on"] == "2026-11-20"
    assert post["previous_runs_out_on"] is None
    assert (post["scope"], post["team"], post["period"]) == ("team:chatbot", "chatbot", "2026-11")
    assert (post["spent_usd"], post["budget_usd"]) == ("50.000000000000", "200.000000000000")
    assert post["projected_usd"] == "300.000000000000"  # $10 a day for 30 days
    assert "runs out of its monthly budget on 2026-11-20" in str(post["text"])
    jsonschema.validate(post, ALERT_SCHEMA)

    await spend(store, 6, 10)  # the next day, the same pace: the same date, no alert
    clock.now = day(7)
    assert await watch.check_once() == 0

    await spend(store, 7, 20)  # the pace doubles: day 18, earlier by 2 days = the margin
    clock.now = day(8)
    assert await watch.check_once() == 0
    await spend(store, 8, 20)  # day 16: earlier by more than the margin
    clock.now = day(9)
    assert await watch.check_once() == 1
    await alerts.flush()
    assert [p["runs_out_on"] for p in forecast_posts(poster)] == ["2026-11-20", "2026-11-16"]
    assert forecast_posts(poster)[-1]["previous_runs_out_on"] == "2026-11-20"

    # another instance (or a restart) on the same store: nothing new to say
    other = AlertManager(s, store, http_post=poster, clock=clock)
    assert await ForecastWatch(store, lambda: s, other.forecast, clock=clock).check_once() == 0
    await other.close()
    await alerts.close()
    assert len(forecast_posts(poster)) == 2


async def test_at_most_one_a_day_and_never_past_95_percent() -> None:
    store = FakeAlertStore()
    poster = RecordingPoster()
    alerts = AlertManager(settings(margin=0), store, http_post=poster)
    today = date(2026, 11, 6)
    args = ("team:chatbot", "2026-11", 50 * USD, 200 * USD, 300 * USD)
    assert await alerts.forecast(*args, date(2026, 11, 20), today)
    assert not await alerts.forecast(*args, date(2026, 11, 10), today)  # earlier, same day
    assert await alerts.forecast(*args, date(2026, 11, 10), date(2026, 11, 7))  # next day
    assert not await alerts.forecast(*args, date(2026, 11, 10), date(2026, 11, 8))  # same date
    late = ("team:chatbot", "2026-11", 191 * USD, 200 * USD, 300 * USD)
    assert not await alerts.forecast(*late, date(2026, 11, 9), date(2026, 11, 9))  # past 95 %
    await alerts.flush()
    assert [p["runs_out_on"] for p in forecast_posts(poster)] == ["2026-11-20", "2026-11-10"]
    await alerts.close()


async def test_forecasts_cover_team_and_orgbudget_scopes(store: Store) -> None:
    s = settings(org_budget="300")
    for d in range(1, 6):
        await spend(store, d, 10)
        await spend(store, d, 5, team="research")
    found = {f.scope: f for f in await forecasts(store, s, day(6), budget_scopes(s))}
    assert found["team:chatbot"].runs_out_on == date(2026, 11, 20)
    assert found["org"].runs_out_on == date(2026, 11, 20)  # $15 a day against $300
    assert found["org"].spent == 75 * USD
    # the first day of a period is no pace yet; a budget that lasts is not listed
    assert await forecasts(store, s, day(1, 20), budget_scopes(s)) == []
    relaxed = settings(org_budget="100000")
    assert [f.scope for f in await forecasts(store, relaxed, day(6), budget_scopes(relaxed))] == [
        "team:chatbot"
    ]


def test_a_budget_that_runs_out_at_midnight_runs_out_on_the_day_that_ends_there() -> None:
    assert runs_out_day(int(day(21)), "UTC") == date(2026, 11, 20)
    assert runs_out_day(int(day(21)) + 1, "UTC") == date(2026, 11, 21)
    assert runs_out_day(int(day(21)), "America/New_York") == date(2026, 11, 20)


async def test_forecasts_cover_environment_and_key_sub_budgets(store: Store) -> None:
    """Every scope the budget book reserves in is forecast: a staging sub-budget and a
    key's own budget (read from the store's keys, a rotated key's spend included)."""
    team = TeamConfig(
        "chatbot",
        ("m",),
        100,
        monthly_budget_usd=Decimal("100000"),
        environments={
            "staging": EnvironmentConfig("staging", (), monthly_budget_usd=Decimal("100"))
        },
    )
    s = Settings(teams={"chatbot": team}, alerts=AlertSettings(webhook_url=HOOK))
    await store.add_client_key(make_key("chatbot-prod-batch", budget_pusd=60 * USD))
    for d in range(1, 6):  # staging: $5 a day of $100 -> day 20; the key: $3 a day of $60
        await store.append_usage(
            [
                make_record(
                    day(d, 12), environment="staging", cost_pusd=5 * USD, request_id=f"s{d}"
                ),
                make_record(
                    day(d, 13),
                    client_key="chatbot-prod-batch@rotated-1" if d == 1 else "chatbot-prod-batch",
                    cost_pusd=3 * USD,
                    request_id=f"k{d}",
                ),
            ]
        )
    clock = Clock()
    clock.now = day(6)
    poster = RecordingPoster()
    alerts = AlertManager(s, store, http_post=poster, clock=clock)
    watch = ForecastWatch(
        store, lambda: s, alerts.forecast, clock=clock, keys=store.list_client_keys
    )
    assert await watch.check_once() == 2
    await alerts.flush()
    posts = {p["scope"]: p for p in forecast_posts(poster)}
    assert set(posts) == {"env:chatbot/staging", "key:chatbot-prod-batch"}
    assert posts["env:chatbot/staging"]["runs_out_on"] == "2026-11-20"
    assert posts["key:chatbot-prod-batch"]["runs_out_on"] == "2026-11-20"  # $15 of $60 by day 5
    assert "environment `chatbot/staging`" in str(posts["env:chatbot/staging"]["text"])
    await alerts.close()
