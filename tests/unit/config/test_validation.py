"""The validation table: one mutation of a valid config, one exact message.

This file holds every section's cases but ``teams`` (server, upstream, storage, redis,
admin, org, pricing, aliases, alerts, dashboard, the file's shape); the ``teams``
section's are in test_validation_teams.py. ``CASES`` is the whole table.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from teamgate.config.fields import InvalidConfig
from teamgate.config.loader import parse_settings
from tests.unit.config.test_validation_teams import TEAM_CASES
from tests.unit.config.validation_table import (
    OIDC,
    SCHEMES,
    Case,
    Mutation,
    assert_one_exact_message,
    params,
    put,
)

pytestmark = pytest.mark.usefixtures("no_cloud_extras")

SECTION_CASES: list[Case] = [
    # -- numbers, booleans, choices -------------------------------------------------
    (
        "timeout not a number",
        put("upstream", "timeout_s", value="abc"),
        "upstream.timeout_s: must be a positive number, got 'abc'",
    ),
    (
        "key_selection choice",
        put("upstream", "key_selection", value="random"),
        "upstream.key_selection: must be one of first, round_robin, got 'random'",
    ),
    (
        "redis failure_mode choice",
        put("redis", value={"failure_mode": "maybe"}),
        "redis.failure_mode: must be one of closed, open, got 'maybe'",
    ),
    (
        "fair_share is a boolean",
        put("org", "fair_share", value="yes"),
        "org.fair_share: must be true or false, got 'yes'",
    ),
    (
        "port out of range",
        put("server", value={"port": 70000}),
        "server.port: must be a port number in 0..65535 (0: pick a free port), got 70000",
    ),
    (
        "admin port clashes",
        put("server", value={"port": 8080, "admin_port": 8080}),
        "server.admin_port: must differ from server.port (8080) on the same host; "
        "leave it out to serve the admin API on the proxy's port",
    ),
    (
        "admin key_env not a variable name",
        put("admin", "key_env", value="my key"),
        "admin.key_env: must be an environment variable name, got 'my key'",
    ),
    # -- unknown keys, shapes ---------------------------------------------------------
    (
        "unknown top-level key",
        put("zzz", value=1),
        "zzz: unknown key (known keys: server, upstream, storage, redis, admin, metrics, "
        "dashboard, alerts, secrets, org, pricing, aliases, audio, batches, logging, tracing, "
        "teams)",
    ),
    (
        "section not a mapping",
        put("server", value=[1]),
        "server: must be a mapping, got [1]",
    ),
    # -- money ------------------------------------------------------------------------
    (
        "boolean budget",
        put("org", "monthly_budget_usd", value=True),
        "org.monthly_budget_usd: must be an amount in USD >= 0, got True",
    ),
    (
        "budget not a number",
        put("org", "monthly_budget_usd", value="lots"),
        "org.monthly_budget_usd: must be an amount in USD >= 0, got 'lots'",
    ),
    (
        "price with 7 decimals",
        put("pricing", value={"my-model": {"input": 1e-07, "output": 1}}),
        "pricing.my-model.input: must have at most 6 decimal places, got 1e-07",
    ),
    (
        "negative price, model name with a dot",
        put("pricing", value={"qwen/qwen3.6-27b": {"input": -1, "output": 1}}),
        "pricing.qwen/qwen3.6-27b.input: must be a price in USD per 1M tokens >= 0, got -1",
    ),
    (
        "price without output",
        put("pricing", value={"my-model": {"input": 1}}),
        "pricing.my-model.output: is required",
    ),
    (
        "price checked not a date",
        put("pricing", value={"my-model": {"input": 1, "output": 2, "checked": "2026-13-01"}}),
        "pricing.my-model.checked: must be a date YYYY-MM-DD, got '2026-13-01'",
    ),
    # -- models, aliases, prices -------------------------------------------------------------
    (
        "alias of an alias",
        put("aliases", "quick", value="fast"),
        "aliases.quick: points at 'fast', which is itself an alias; point at a model directly",
    ),
    (
        "alias shadows a priced model",
        put("aliases", "llama-3.1-8b-instant", value="llama-3.3-70b-versatile"),
        "aliases.llama-3.1-8b-instant: alias shadows the priced model "
        "'llama-3.1-8b-instant'; choose another alias name",
    ),
    (
        "alias shadows a model priced in the config",
        lambda d: (
            put("pricing", value={"my-model": {"input": 1, "output": 1}})(d),
            put("aliases", "my-model", value="llama-3.1-8b-instant")(d),
        ),
        "aliases.my-model: alias shadows the priced model 'my-model'; choose another alias name",
    ),
    (
        "org model limits for a model no team uses",
        put("org", "models", value={"qwen/qwen3-32b": {"rpm": 1}}),
        "org.models.qwen/qwen3-32b: no team may use this model",
    ),
    # -- URLs, storage, time --------------------------------------------------------------------
    (
        "base url not http",
        put("upstream", "base_url", value="ftp://x"),
        "upstream.base_url: must be an http(s) URL, got 'ftp://x'",
    ),
    (
        "base url with the API path",
        put("upstream", "base_url", value="https://api.groq.com/openai/v1"),
        "upstream.base_url: must be the API root without /openai/v1, "
        "got 'https://api.groq.com/openai/v1'",
    ),
    (
        "storage url scheme (password hidden)",
        put("storage", "url", value="mysql://tg:hunter2@db/tg"),
        "storage.url: must start with sqlite:///, sqlite://:memory:, postgresql://, "
        "postgres://, got 'mysql://tg:***@db/tg'",
    ),
    (
        "redis url scheme",
        put("redis", value={"url": "http://cache:6379"}),
        "redis.url: must be a redis:// or rediss:// URL or null, got 'http://cache:6379'",
    ),
    (
        "webhook url not shown",
        put("alerts", "webhook_url", value="hooks.slack.com/T0/SECRET"),
        "alerts.webhook_url: must be an http(s) URL (the value is not shown)",
    ),
    (
        "unknown timezone",
        put("org", "timezone", value="Mars/Olympus"),
        "org.timezone: must be an IANA time zone such as UTC or Europe/Paris, got 'Mars/Olympus'",
    ),
    # -- alert thresholds -------------------------------------------------------------------------
    (
        "thresholds not increasing",
        put("alerts", "thresholds", value=[0.5, 0.5]),
        "alerts.thresholds[1]: must be greater than the threshold before it (0.5), got 0.5",
    ),
    (
        "threshold as a percentage",
        put("alerts", "thresholds", value=[0.5, 80]),
        "alerts.thresholds[1]: must be a fraction in (0, 1], got 80 (write 80% as 0.8)",
    ),
    (
        "thresholds not a list",
        put("alerts", "thresholds", value=0.5),
        "alerts.thresholds: must be a list, got 0.5",
    ),
    (
        "a number too big for a float",
        put("upstream", "timeout_s", value=10**400),
        "upstream.timeout_s: must be a positive number, got " + repr(10**400)[:57] + "...",
    ),
    # -- dashboard single sign-on (dashboard.oidc) -----------------------------------
    (
        "oidc issuer over plain http",
        put("dashboard", value={"oidc": {**OIDC, "issuer": "http://login.example.com"}}),
        "dashboard.oidc.issuer: must be an https:// URL (http:// only for localhost), "
        "got 'http://login.example.com'",
    ),
    (
        "oidc without a client id",
        put("dashboard", value={"oidc": {k: v for k, v in OIDC.items() if k != "client_id"}}),
        "dashboard.oidc.client_id: is required",
    ),
    (
        "oidc client secret pasted",
        put("dashboard", value={"oidc": {**OIDC, "client_secret": "s3cr3t-value"}}),
        "dashboard.oidc.client_secret: " + SCHEMES,
    ),
    (
        "oidc redirect not the callback",
        put("dashboard", value={"oidc": {**OIDC, "redirect_url": "https://gw.example.com/"}}),
        "dashboard.oidc.redirect_url: must be an http(s) URL ending in "
        "/dashboard/oidc/callback (as the browser reaches this gateway), "
        "got 'https://gw.example.com/'",
    ),
    (
        "oidc scopes without openid",
        put("dashboard", value={"oidc": {**OIDC, "scopes": ["email"]}}),
        "dashboard.oidc.scopes: must include openid, got ['email']",
    ),
    (
        "oidc role unknown",
        put("dashboard", value={"oidc": {**OIDC, "roles": {"finance": "boss"}}}),
        "dashboard.oidc.roles.finance: must be admin, viewer, viewer:TEAM or "
        "team-admin:TEAM, got 'boss'",
    ),
    (
        "oidc role names no team",
        put("dashboard", value={"oidc": {**OIDC, "roles": {"leads": "team-admin:chatbott"}}}),
        "dashboard.oidc.roles.leads: names no team 'chatbott' "
        "(teams: chatbot, analytics, research)",
    ),
    (
        "oidc roles empty",
        put("dashboard", value={"oidc": {**OIDC, "roles": {}}}),
        "dashboard.oidc.roles: must map at least one claim value to a role",
    ),
    (
        "oidc unknown key",
        put("dashboard", value={"oidc": {**OIDC, "client": "x"}}),
        "dashboard.oidc.client: unknown key (did you mean client_id?)",
    ),
    (
        "dashboard session ttl zero",
        put("dashboard", value={"session_ttl_s": 0}),
        "dashboard.session_ttl_s: must be a positive number, got 0",
    ),
]

CASES: list[Case] = SECTION_CASES + TEAM_CASES  # the whole validation table


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
