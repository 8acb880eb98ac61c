"""The validation table, part one: the ``teams`` section (limits, budgets, names,
environments, upstream keys and their secret references, allowed models and aliases as a
team uses them). One mutation of a valid config, one exact message; test_validation.py runs
the other sections' cases, and the table itself is in tests/support/validation_cases.py.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from teamgate.config import secret_refs
from teamgate.config.errors import ConfigError
from teamgate.config.loader import parse_settings
from tests.support.validation_cases import TEAM_CASES
from tests.support.validation_table import (
    Mutation,
    assert_one_exact_message,
    params,
)

pytestmark = pytest.mark.usefixtures("no_cloud_extras")


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
