"""The validation table: one mutation of a valid config, one exact message.

This file runs every section's cases but ``teams`` (server, upstream, storage, redis,
admin, org, pricing, aliases, alerts, dashboard, the file's shape); test_validation_teams.py
runs the ``teams`` section's. The table itself, ``CASES``, is in
tests/support/validation_cases.py.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from teamgate.config.fields import InvalidConfig
from teamgate.config.loader import parse_settings
from tests.support.validation_cases import SECTION_CASES
from tests.support.validation_table import (
    OIDC,
    Mutation,
    assert_one_exact_message,
    params,
)

pytestmark = pytest.mark.usefixtures("no_cloud_extras")


def test_the_seed_config_is_valid(config: dict[str, Any]) -> None:
    settings = parse_settings(config)
    assert sorted(settings.teams) == ["analytics", "chatbot", "research"]


@pytest.mark.parametrize(("mutation", "expected"), params(SECTION_CASES))
def test_one_problem_gives_one_exact_message(
    config: dict[str, Any], mutation: Mutation, expected: str
) -> None:
    assert_one_exact_message(config, mutation, expected)


def test_every_problem_is_listed_in_order(config: dict[str, Any]) -> None:
    config["teams"]["chatbot"]["limits"]["rpm"] = -5
    config["upstream"]["timeout_s"] = "abc"
    with pytest.raises(InvalidConfig) as caught:
        parse_settings(config, source="team.yaml")
    assert str(caught.value).splitlines() == [
        "teams.chatbot.limits.rpm: must be a positive integer, got -5",
        "upstream.timeout_s: must be a positive number, got 'abc'",
    ]
    assert caught.value.source == "team.yaml"
    assert caught.value.path == "teams.chatbot.limits.rpm"


def test_pricing_default_allows_unpriced_models(config: dict[str, Any]) -> None:
    config["teams"]["research"]["allowed_models"].append("brand-new-model")
    config["pricing"] = {"default": {"input": "0.10", "output": 0.1}}
    settings = parse_settings(config)
    assert settings.pricing_default is not None
    assert settings.pricing_default.input == Decimal("0.10")
    assert settings.pricing_default.output == Decimal("0.1")
    assert settings.pricing == {}
    assert "brand-new-model" in settings.teams["research"].allowed_models


def test_money_stays_exact(config: dict[str, Any]) -> None:
    config["teams"]["chatbot"]["monthly_budget_usd"] = 0.1
    config["org"]["monthly_budget_usd"] = "1000.005"
    config["pricing"] = {"my-model": {"input": 0.59, "output": 0.000001, "checked": "2026-11-01"}}
    settings = parse_settings(config)
    budget = settings.teams["chatbot"].monthly_budget_usd
    assert isinstance(budget, Decimal)
    assert budget == Decimal("0.1")
    assert str(budget) == "0.1"
    assert settings.org.monthly_budget_usd == Decimal("1000.005")
    price = settings.pricing["my-model"]
    assert (price.input, price.output) == (Decimal("0.59"), Decimal("0.000001"))
    assert str(price.checked) == "2026-11-01"
    assert settings.alerts.thresholds == (Decimal("0.5"), Decimal("0.8"), Decimal("0.95"))


def test_defaults_fill_what_the_file_leaves_out(config: dict[str, Any]) -> None:
    settings = parse_settings(config)
    chatbot = settings.teams["chatbot"]
    assert chatbot.environments["prod"].project == "chatbot-prod"
    assert settings.teams["research"].environments["batch"].project == "batch-processor"
    assert chatbot.alert_thresholds is None
    assert settings.teams["analytics"].on_limit == "queue"
    assert settings.server.port == 8080
    assert settings.redis.url is None
    assert settings.org.timezone == "UTC"


def test_null_thresholds_mean_the_defaults_and_empty_means_none(config: dict[str, Any]) -> None:
    config["alerts"]["thresholds"] = None
    config["teams"]["chatbot"]["alert_thresholds"] = []
    config["org"]["alert_thresholds"] = [0.9]
    settings = parse_settings(config)
    assert settings.alerts.thresholds == (Decimal("0.5"), Decimal("0.8"), Decimal("0.95"))
    assert settings.teams["chatbot"].alert_thresholds == ()
    assert settings.org.alert_thresholds == (Decimal("0.9"),)


def test_a_full_oidc_section_is_read(config: dict[str, Any]) -> None:
    config["dashboard"] = {"session_ttl_s": 3600, "oidc": {**OIDC, "claim": "roles"}}
    settings = parse_settings(config)
    oidc = settings.dashboard.oidc
    assert oidc is not None and settings.dashboard.session_ttl_s == 3600
    assert (oidc.claim, oidc.username_claim, oidc.scopes) == (
        "roles",
        "email",
        ("openid", "email", "profile"),
    )
    assert oidc.roles["chatbot-leads"] == "team-admin:chatbot"
    assert oidc.client_secret == "env:TEAMGATE_OIDC_SECRET"
