"""The validation table's vocabulary: mutations of a valid config, shared strings, and the
one check every case makes (one mutation, one exact message).

The table itself is validation_cases.py: ``TEAM_CASES`` inside ``teams``,
``SECTION_CASES`` every other section's, ``CASES`` the whole table
(tests/unit/config/test_json_schema.py also runs it against the JSON Schema).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from teamgate.config.errors import ConfigError
from teamgate.config.loader import parse_settings

Mutation = Callable[[dict[str, Any]], None]
Case = tuple[str, Mutation, str]
CHATBOT_KEY = ("teams", "chatbot", "environments", "prod", "upstream_keys", 0)


def _walk(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def put(*path: Any, value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        parent = _walk(data, path[:-1])
        parent[path[-1]] = value

    return mutate


def drop(*path: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        del _walk(data, path[:-1])[path[-1]]

    return mutate


def rename(*path: Any, to: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        parent = _walk(data, path[:-1])
        parent[to] = parent.pop(path[-1])

    return mutate


NAME_RULE = (
    "lowercase letters, digits and _, starting with a letter or digit "
    "(no '-': it separates {team}-{environment}-{purpose} in key names)"
)
SCHEMES = "must start with env:, file:, aws-sm: or gcp-sm: (the value is not shown)"

OIDC: dict[str, Any] = {
    "issuer": "https://login.example.com/oauth2/default",
    "client_id": "teamgate",
    "client_secret": "env:TEAMGATE_OIDC_SECRET",
    "redirect_url": "https://gw.example.com/dashboard/oidc/callback",
    "roles": {"platform": "admin", "chatbot-leads": "team-admin:chatbot", "finance": "viewer"},
}


def params(cases: list[Case]) -> list[Any]:
    """The cases as pytest parameters, each named by its case."""
    return [pytest.param(m, e, id=name) for name, m, e in cases]


def assert_one_exact_message(config: dict[str, Any], mutation: Mutation, expected: str) -> None:
    """``mutation`` makes ``config`` fail with exactly ``expected`` (path and problem)."""
    mutation(config)
    with pytest.raises(ConfigError) as caught:
        parse_settings(config)
    assert str(caught.value) == expected
    path, _, problem = expected.partition(": ")
    assert (caught.value.path, caught.value.problem) == (path, problem)
