"""The validation table, part one: the ``teams`` section (limits, budgets, names,
environments, upstream keys and their secret references, allowed models and aliases as a
team uses them). One mutation of a valid config, one exact message; the other sections'
cases are in test_validation.py.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from teamgate.config import secret_refs
from teamgate.config.errors import ConfigError
from teamgate.config.loader import parse_settings
from tests.unit.config.validation_table import (
    CHATBOT_KEY,
    NAME_RULE,
    SCHEMES,
    Case,
    Mutation,
    assert_one_exact_message,
    drop,
    params,
    put,
    rename,
)

pytestmark = pytest.mark.usefixtures("no_cloud_extras")

TEAM_CASES: list[Case] = [
    # -- numbers, booleans, choices -------------------------------------------------
    (
        "negative rpm",
        put("teams", "chatbot", "limits", "rpm", value=-5),
        "teams.chatbot.limits.rpm: must be a positive integer, got -5",
    ),
    (
        "yes is not a number",
        put("teams", "chatbot", "limits", "tpm", value=True),
        "teams.chatbot.limits.tpm: must be a positive integer, got True",
    ),
    (
        "fractional concurrency",
        put("teams", "chatbot", "limits", "concurrency", value=2.5),
        "teams.chatbot.limits.concurrency: must be a positive integer, got 2.5",
    ),
    (
        "negative queue wait",
        put("teams", "chatbot", "limits", "max_queue_wait_s", value=-1),
        "teams.chatbot.limits.max_queue_wait_s: must be a number >= 0, got -1",
    ),
    (
        "zero max tokens",
        put("teams", "chatbot", "max_tokens_per_request", value=0),
        "teams.chatbot.max_tokens_per_request: must be a positive integer, got 0",
    ),
    (
        "max tokens missing",
        drop("teams", "analytics", "max_tokens_per_request"),
        "teams.analytics.max_tokens_per_request: is required",
    ),
    (
        "on_limit choice",
        put("teams", "analytics", "on_limit", value="drop"),
        "teams.analytics.on_limit: must be one of queue, reject, got 'drop'",
    ),
    (
        "key state choice",
        put(*CHATBOT_KEY, "state", value="old"),
        "teams.chatbot.environments.prod.upstream_keys[0].state: "
        "must be one of active, draining, retired, got 'old'",
    ),
    # -- unknown keys, shapes ---------------------------------------------------------
    (
        "typo with hint",
        rename("teams", "chatbot", "limits", to="limts"),
        "teams.chatbot.limts: unknown key (did you mean limits?)",
    ),
    # -- money ------------------------------------------------------------------------
    (
        "negative budget",
        put("teams", "chatbot", "monthly_budget_usd", value=-1),
        "teams.chatbot.monthly_budget_usd: must be an amount in USD >= 0, got -1",
    ),
    (
        "environment sub-budget negative",
        put("teams", "chatbot", "environments", "staging", "monthly_budget_usd", value=-5),
        "teams.chatbot.environments.staging.monthly_budget_usd: "
        "must be an amount in USD >= 0, got -5",
    ),
    (
        "environment sub-budget above its team's",
        put("teams", "chatbot", "environments", "staging", "monthly_budget_usd", value=250),
        "teams.chatbot.environments.staging.monthly_budget_usd: "
        "must be at most the team's monthly_budget_usd (200), got 250",
    ),
    (
        "environment sub-budget typo",
        put("teams", "chatbot", "environments", "prod", "monthly_budget", value=20),
        "teams.chatbot.environments.prod.monthly_budget: unknown key "
        "(did you mean monthly_budget_usd?)",
    ),
    # -- names and structure ------------------------------------------------------------
    (
        "team name with hyphen",
        rename("teams", "chatbot", to="chat-bot"),
        f"teams.chat-bot: a team name must be {NAME_RULE}, got 'chat-bot'",
    ),
    (
        "environment name in capitals",
        rename("teams", "chatbot", "environments", "prod", to="Prod"),
        f"teams.chatbot.environments.Prod: an environment name must be {NAME_RULE}, got 'Prod'",
    ),
    ("no teams", put("teams", value={}), "teams: must define at least one team"),
    ("teams missing", drop("teams"), "teams: must define at least one team"),
    (
        "no environment",
        put("teams", "analytics", "environments", value={}),
        "teams.analytics.environments: must define at least one environment",
    ),
    (
        "environments missing",
        drop("teams", "analytics", "environments"),
        "teams.analytics.environments: is required",
    ),
    (
        "no upstream key",
        put("teams", "analytics", "environments", "prod", "upstream_keys", value=[]),
        "teams.analytics.environments.prod.upstream_keys: must list at least one upstream key",
    ),
    (
        "upstream key names unique across teams",
        put(
            "teams",
            "analytics",
            "environments",
            "prod",
            "upstream_keys",
            0,
            "name",
            value="chatbot-prod-2026-04",
        ),
        "teams.analytics.environments.prod.upstream_keys[0].name: 'chatbot-prod-2026-04' "
        "is already used by teams.chatbot.environments.prod.upstream_keys[0]; "
        "upstream key names must be unique",
    ),
    (
        "upstream key name with a space",
        put(*CHATBOT_KEY, "name", value="chatbot prod"),
        "teams.chatbot.environments.prod.upstream_keys[0].name: must be letters, digits, "
        "'.', '_' and '-', starting with a letter or digit, got 'chatbot prod'",
    ),
    (
        "upstream key without secret",
        drop(*CHATBOT_KEY, "secret"),
        "teams.chatbot.environments.prod.upstream_keys[0].secret: is required",
    ),
    # -- secret references ---------------------------------------------------------------
    (
        "a pasted Groq key is refused and not repeated",
        put(*CHATBOT_KEY, "secret", value="gsk_live_abcdefghijklmnop"),
        f"teams.chatbot.environments.prod.upstream_keys[0].secret: {SCHEMES}; this looks like "
        "a Groq key itself: put it in an environment variable and write env:NAME",
    ),
    (
        "unknown secret scheme",
        put(*CHATBOT_KEY, "secret", value="vault:kv/groq"),
        f"teams.chatbot.environments.prod.upstream_keys[0].secret: {SCHEMES}",
    ),
    (
        "env: without a name",
        put(*CHATBOT_KEY, "secret", value="env:"),
        "teams.chatbot.environments.prod.upstream_keys[0].secret: "
        "env: needs an environment variable name, e.g. env:GROQ_KEY_CHATBOT_PROD",
    ),
    (
        "file: without a path",
        put(*CHATBOT_KEY, "secret", value="file:"),
        "teams.chatbot.environments.prod.upstream_keys[0].secret: "
        "file: needs a path, e.g. file:/run/secrets/groq_key",
    ),
    (
        "aws-sm without boto3",
        put(*CHATBOT_KEY, "secret", value="aws-sm:teamgate/chatbot-prod#key"),
        "teams.chatbot.environments.prod.upstream_keys[0].secret: "
        "aws-sm: needs the AWS extra: pip install 'teamgate[aws]'",
    ),
    (
        "gcp-sm without the client",
        put(*CHATBOT_KEY, "secret", value="gcp-sm:projects/p/secrets/s"),
        "teams.chatbot.environments.prod.upstream_keys[0].secret: "
        "gcp-sm: needs the GCP extra: pip install 'teamgate[gcp]'",
    ),
    (
        "gcp-sm malformed",
        put(*CHATBOT_KEY, "secret", value="gcp-sm:my-secret"),
        "teams.chatbot.environments.prod.upstream_keys[0].secret: "
        "gcp-sm: needs projects/P/secrets/S or projects/P/secrets/S/versions/V",
    ),
    # -- models, aliases, prices -------------------------------------------------------------
    (
        "allowed model not a string",
        put("teams", "chatbot", "allowed_models", 1, value=5),
        "teams.chatbot.allowed_models[1]: must be a string, got 5",
    ),
    (
        "allowed model duplicated",
        put("teams", "chatbot", "allowed_models", 1, value="llama-3.3-70b-versatile"),
        "teams.chatbot.allowed_models[1]: duplicate of teams.chatbot.allowed_models[0]",
    ),
    (
        "empty allowlist",
        put("teams", "analytics", "allowed_models", value=[]),
        "teams.analytics.allowed_models: must list at least one model",
    ),
    (
        "unpriced model",
        put("teams", "research", "allowed_models", 2, value="x"),
        "teams.research.allowed_models[2]: model 'x' has no price; "
        "add it under pricing: or set pricing.default",
    ),
    (
        "alias of an unpriced model",
        lambda d: (
            put("aliases", "fast", value="mystery-model")(d),
            put("teams", "analytics", "allowed_models", value=["fast"])(d),
        ),
        "teams.analytics.allowed_models[0]: model 'fast' (alias of 'mystery-model') has no "
        "price; add it under pricing: or set pricing.default",
    ),
    (
        "model limits outside the allowlist",
        put("teams", "analytics", "models", value={"llama-3.3-70b-versatile": {"rpm": 1}}),
        "teams.analytics.models.llama-3.3-70b-versatile: not in this team's allowed_models",
    ),
    (
        "model limits checked too",
        put("teams", "chatbot", "models", value={"llama-3.3-70b-versatile": {"tpm": 0}}),
        "teams.chatbot.models.llama-3.3-70b-versatile.tpm: must be a positive integer, got 0",
    ),
    # -- alert thresholds -------------------------------------------------------------------------
    (
        "teams as a list",
        put("teams", value=["chatbot"]),
        "teams: must be a mapping, got ['chatbot']",
    ),
    # -- dashboard single sign-on (dashboard.oidc) -----------------------------------
    (
        "team threshold zero",
        put("teams", "chatbot", "alert_thresholds", value=[0]),
        "teams.chatbot.alert_thresholds[0]: must be a fraction in (0, 1], got 0",
    ),
]


@pytest.mark.parametrize(("mutation", "expected"), params(TEAM_CASES))
def test_one_problem_gives_one_exact_message(
    config: dict[str, Any], mutation: Mutation, expected: str
) -> None:
    assert_one_exact_message(config, mutation, expected)


def test_a_pasted_key_never_appears_in_the_message(config: dict[str, Any]) -> None:
    config["teams"]["chatbot"]["environments"]["prod"]["upstream_keys"][0]["secret"] = (
        "gsk_TOPSECRETVALUE"
    )
    with pytest.raises(ConfigError) as caught:
        parse_settings(config)
    assert "TOPSECRETVALUE" not in str(caught.value)


def test_cloud_references_pass_when_the_extra_is_installed(
    config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(secret_refs, "module_available", lambda name: True)
    keys = config["teams"]["chatbot"]["environments"]["prod"]["upstream_keys"]
    keys[0]["secret"] = "aws-sm:teamgate/chatbot-prod#key@AWSCURRENT"
    keys.append({"name": "chatbot-prod-2026-05", "secret": "gcp-sm:projects/p/secrets/s"})
    settings = parse_settings(config)
    refs = [k.secret for k in settings.teams["chatbot"].environments["prod"].upstream_keys]
    assert refs == ["aws-sm:teamgate/chatbot-prod#key@AWSCURRENT", "gcp-sm:projects/p/secrets/s"]


def test_an_environment_sub_budget_is_read_exactly(config: dict[str, Any]) -> None:
    config["teams"]["chatbot"]["environments"]["staging"]["monthly_budget_usd"] = "20.10"
    config["teams"]["analytics"].pop("monthly_budget_usd")  # no team budget: any sub-budget
    config["teams"]["analytics"]["environments"]["prod"]["monthly_budget_usd"] = 75
    settings = parse_settings(config)
    assert settings.teams["chatbot"].environments["staging"].monthly_budget_usd == Decimal("20.10")
    assert settings.teams["chatbot"].environments["prod"].monthly_budget_usd is None
    assert settings.teams["analytics"].environments["prod"].monthly_budget_usd == Decimal(75)


def test_model_limits_are_keyed_by_the_resolved_model(config: dict[str, Any]) -> None:
    config["teams"]["chatbot"]["models"] = {"fast": {"rpm": 10}}
    config["org"]["models"] = {"llama-3.3-70b-versatile": {"tpm": 1000}}
    settings = parse_settings(config)
    assert settings.teams["chatbot"].model_limits["llama-3.1-8b-instant"].rpm == 10
    assert settings.org.model_limits["llama-3.3-70b-versatile"].tpm == 1000


def test_a_typod_model_name_gets_did_you_mean() -> None:
    from teamgate.config.errors import ConfigError
    from teamgate.config.loader import parse_settings
    from tests.conftest import BASE_CONFIG, merge

    data = merge(
        BASE_CONFIG, {"teams": {"analytics": {"allowed_models": ["llama-3.1-8b-instnat"]}}}
    )
    with pytest.raises(ConfigError) as caught:
        parse_settings(data)
    assert (
        "teams.analytics.allowed_models[0]: unknown model 'llama-3.1-8b-instnat' "
        "(did you mean llama-3.1-8b-instant?)"
    ) in str(caught.value)
    far = merge(BASE_CONFIG, {"teams": {"analytics": {"allowed_models": ["gpt-4o"]}}})
    with pytest.raises(ConfigError, match="'gpt-4o' has no price"):
        parse_settings(far)
