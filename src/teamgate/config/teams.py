"""The ``teams`` section: allowlists, caps, budgets, limits, environments, upstream keys.

>>> from teamgate.config.fields import Problems
>>> from teamgate.config.models import build_catalog
>>> problems = Problems()
>>> catalog = build_catalog(problems, {}, None, {})
>>> teams = read_teams(problems, {"ops": {
...     "allowed_models": ["llama-3.1-8b-instant"], "max_tokens_per_request": 256,
...     "environments": {"prod": {"upstream_keys": [{"name": "ops-prod-1", "secret": "env:K"}]}},
... }}, catalog)
>>> teams["ops"].environments["prod"].project, len(problems)
('ops-prod', 0)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, cast

from teamgate.config.fields import (
    Invalid,
    Problems,
    Section,
    as_list,
    as_mapping,
    checks,
    child,
    choice,
    item,
    money,
    optional,
    positive_int,
    shown,
    string,
)
from teamgate.config.models import ModelCatalog, read_model_limits
from teamgate.config.schema import (
    EnvironmentConfig,
    KeyState,
    OnLimit,
    TeamConfig,
    UpstreamKeyConfig,
)
from teamgate.config.secret_refs import check_secret_reference
from teamgate.config.sections import read_limits, read_thresholds

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]*$")
ON_LIMIT = choice("queue", "reject")
KEY_STATE = choice("active", "draining", "retired")
ENVIRONMENT_FIELDS = ("project", "monthly_budget_usd", "upstream_keys")
UPSTREAM_KEY_FIELDS = ("name", "secret", "state")
KEY_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
TEAM_FIELDS = (
    "allowed_models",
    "max_tokens_per_request",
    "monthly_budget_usd",
    "limits",
    "models",
    "on_limit",
    "alert_thresholds",
    "environments",
)
_NAME_RULE = (
    "lowercase letters, digits and _, starting with a letter or digit "
    "(no '-': it separates {team}-{environment}-{purpose} in key names)"
)


def read_teams(problems: Problems, value: object, catalog: ModelCatalog) -> dict[str, TeamConfig]:
    """Every team; upstream key names are checked to be unique across all of them."""
    entries = as_mapping(problems, "teams", value)
    if not entries and (value is None or isinstance(value, Mapping)):
        problems.add("teams", "must define at least one team")
    key_owners: dict[str, str] = {}
    teams: dict[str, TeamConfig] = {}
    for name, raw in entries.items():
        path = child("teams", name)
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            problems.add(path, f"a team name must be {_NAME_RULE}, got {shown(name)}")
        team = _read_team(problems, path, str(name), raw, catalog, key_owners)
        teams[str(name)] = team
    return teams


def _read_team(
    problems: Problems,
    path: str,
    name: str,
    value: object,
    catalog: ModelCatalog,
    key_owners: dict[str, str],
) -> TeamConfig:
    s = Section(problems, path, value, known=TEAM_FIELDS)
    allowed = _read_allowed_models(problems, s, catalog)
    resolved = {catalog.resolve(model) for model in allowed}
    thresholds = None
    if s.raw("alert_thresholds") is not None:
        thresholds = read_thresholds(problems, s.at("alert_thresholds"), s.raw("alert_thresholds"))
    budget = s.get("monthly_budget_usd", optional(money), None)
    return TeamConfig(
        name=name,
        allowed_models=allowed,
        max_tokens_per_request=s.require("max_tokens_per_request", positive_int, 1),
        monthly_budget_usd=budget,
        limits=read_limits(problems, s.at("limits"), s.raw("limits")),
        model_limits=read_model_limits(
            problems,
            s.at("models"),
            s.raw("models"),
            catalog,
            resolved,
            "not in this team's allowed_models",
        ),
        on_limit=cast(OnLimit, s.get("on_limit", ON_LIMIT, "queue")),
        environments=_read_environments(problems, s, name, key_owners, budget),
        alert_thresholds=thresholds,
    )


def _read_allowed_models(
    problems: Problems, team: Section, catalog: ModelCatalog
) -> tuple[str, ...]:
    path = team.at("allowed_models")
    if not team.has("allowed_models"):
        problems.add(path, "is required")
        return ()
    raw = team.raw("allowed_models")
    entries = as_list(problems, path, raw)
    if raw is not None and not isinstance(raw, list):
        return ()
    if not entries:
        problems.add(path, "must list at least one model")
    allowed: list[str] = []
    for index, model in enumerate(entries):
        model_path = item(path, index)
        if not isinstance(model, str) or not model.strip():
            problems.add(model_path, f"must be a string, got {shown(model)}")
        elif model in allowed:
            problems.add(model_path, f"duplicate of {item(path, allowed.index(model))}")
        else:
            allowed.append(model)
            if model not in catalog.broken_aliases and not catalog.is_priced(model):
                meant = catalog.closest(model)
                problems.add(
                    model_path,
                    f"unknown model {catalog.describe(model)} (did you mean {meant}?)"
                    if meant is not None
                    else f"model {catalog.describe(model)} has no price; "
                    "add it under pricing: or set pricing.default",
                )
    return tuple(allowed)


def _read_environments(
    problems: Problems,
    team: Section,
    team_name: str,
    key_owners: dict[str, str],
    team_budget: Decimal | None,
) -> dict[str, EnvironmentConfig]:
    path = team.at("environments")
    if not team.has("environments"):
        problems.add(path, "is required")
        return {}
    raw = team.raw("environments")
    entries = as_mapping(problems, path, raw)
    if not entries and (raw is None or isinstance(raw, Mapping)):
        problems.add(path, "must define at least one environment")
    environments: dict[str, EnvironmentConfig] = {}
    for name, value in entries.items():
        env_path = child(path, name)
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            problems.add(env_path, f"an environment name must be {_NAME_RULE}, got {shown(name)}")
        s = Section(problems, env_path, value, known=ENVIRONMENT_FIELDS)
        budget = s.get("monthly_budget_usd", optional(money), None)
        if budget is not None and team_budget is not None and budget > team_budget:
            problems.add(
                s.at("monthly_budget_usd"),
                f"must be at most the team's monthly_budget_usd ({team_budget}), "
                f"got {shown(s.raw('monthly_budget_usd'))}",
            )
        environments[str(name)] = EnvironmentConfig(
            name=str(name),
            upstream_keys=_read_upstream_keys(problems, s, key_owners),
            project=s.get("project", string, f"{team_name}-{name}"),
            monthly_budget_usd=budget,
        )
    return environments


def _read_upstream_keys(
    problems: Problems, environment: Section, key_owners: dict[str, str]
) -> tuple[UpstreamKeyConfig, ...]:
    path = environment.at("upstream_keys")
    if not environment.has("upstream_keys"):
        problems.add(path, "is required")
        return ()
    raw = environment.raw("upstream_keys")
    entries = as_list(problems, path, raw)
    if not entries and (raw is None or isinstance(raw, list)):
        problems.add(path, "must list at least one upstream key")
    keys: list[UpstreamKeyConfig] = []
    for index, value in enumerate(entries):
        key_path = item(path, index)
        s = Section(problems, key_path, value, known=UPSTREAM_KEY_FIELDS)
        name = s.require("name", key_name, "")
        if name in key_owners:
            problems.add(
                s.at("name"),
                f"'{name}' is already used by {key_owners[name]}; "
                "upstream key names must be unique",
            )
        elif name:
            key_owners[name] = key_path
        keys.append(
            UpstreamKeyConfig(
                name=name,
                secret=s.require("secret", check_secret_reference, ""),
                state=cast(KeyState, s.get("state", KEY_STATE, "active")),
            )
        )
    return tuple(keys)


@checks({"type": "string", "pattern": KEY_NAME_PATTERN.pattern})
def key_name(value: Any) -> str:
    name = string(value)
    if not KEY_NAME_PATTERN.match(name):
        raise Invalid(
            "must be letters, digits, '.', '_' and '-', starting with a letter or digit, "
            f"got {shown(value)}"
        )
    return name
