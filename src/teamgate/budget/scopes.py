"""Budget scopes: whose money a request spends — its key, environment, team and the org.

A scope is named as the pause switches name theirs: ``key:NAME``, ``env:TEAM/ENV``,
``team:TEAM``, and ``org``. Its counter key adds the budget month:
``team:chatbot:2026-11``. A request is reserved against every scope it belongs to
(:class:`Payer`), in that order, in one atomic step; the first scope that cannot
take its worst case is the one a refusal names.

A key's scope is its name without the rotation suffix (``NAME@rotated-…``), so a
rotated key in its grace period and its successor share one budget.

>>> Payer("chatbot", "staging", "chatbot-staging-batch", 10**12).scope_names()
('key:chatbot-staging-batch', 'env:chatbot/staging', 'team:chatbot', 'org')
>>> key_scope("chatbot-prod-web@rotated-20261130T000000Z")
'key:chatbot-prod-web'
>>> refusal_reason("env:chatbot/staging"), scope_team("key:chatbot-prod-web")
('environment_budget', 'chatbot')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from teamgate.ledger.summary import UsageGroup

ORG = "org"
ROTATED_MARK = (
    "@rotated-"  # teamgate.auth.keys.ROTATED_MARK (a peer module; a test keeps them equal)
)

_REASONS = {
    "key": "key_budget",
    "env": "environment_budget",
    "team": "team_budget",
    "org": "org_budget",
}


def team_scope(team: str) -> str:
    return f"team:{team}"


def env_scope(team: str, environment: str) -> str:
    return f"env:{team}/{environment}"


def key_scope(name: str) -> str:
    return "key:" + name.split(ROTATED_MARK, 1)[0]


def counter_key(scope: str, period_key: str) -> str:
    """The counter of ``scope`` in the month ``period_key``: ``team:chatbot:2026-11``."""
    return f"{scope}:{period_key}"


def scope_of_counter(counter: str) -> str:
    """``team:chatbot:2026-11`` -> ``team:chatbot``."""
    return counter.rsplit(":", 1)[0]


def scope_kind(scope: str) -> str:
    """``key``, ``env``, ``team`` or ``org``."""
    return scope.split(":", 1)[0]


def refusal_reason(scope: str) -> str:
    """The refusal code of a budget refusal in ``scope`` (docs/refusals.md)."""
    return _REASONS[scope_kind(scope)]


def scope_team(scope: str) -> str | None:
    """The team a scope belongs to; None for the org. (A key is named ``TEAM-ENV-PURPOSE``
    and a team name has no ``-``.)"""
    kind, _, rest = scope.partition(":")
    if kind == "team":
        return rest
    if kind == "env":
        return rest.split("/", 1)[0]
    if kind == "key":
        return rest.split("-", 1)[0]
    return None


def describe(scope: str) -> str:
    """``Team `chatbot```, ``Environment `chatbot/staging```, ``Key `…```, ``The organization``."""
    kind, _, rest = scope.partition(":")
    label = {"team": "Team", "env": "Environment", "key": "Key"}.get(kind)
    return f"{label} `{rest}`" if label else "The organization"


@dataclass(frozen=True, slots=True)
class Payer:
    """Whose budgets a request spends: its team, and (when known) its environment and
    client key with the key's own budget (None: the key has none, it is not counted)."""

    team: str
    environment: str | None = None
    key: str | None = None
    key_budget_pico: int | None = None

    def scope_names(self) -> tuple[str, ...]:
        """Every scope of the request, the narrowest first."""
        names: list[str] = []
        if self.key is not None and self.key_budget_pico is not None:
            names.append(key_scope(self.key))
        if self.environment is not None:
            names.append(env_scope(self.team, self.environment))
        names += [team_scope(self.team), ORG]
        return tuple(names)


def settled_by_scope(groups: Iterable[UsageGroup]) -> dict[str, int]:
    """Settled picodollars per scope from ledger sums grouped by team, environment and
    key (each key's, environment's and team's spend, and the org's total)."""
    return _by_scope(groups, lambda g: g.cost_pusd)


def requests_by_scope(groups: Iterable[UsageGroup]) -> dict[str, int]:
    """Requests per scope, as :func:`settled_by_scope` sums spend."""
    return _by_scope(groups, lambda g: g.requests)


def _by_scope(groups: Iterable[UsageGroup], value: Callable[[UsageGroup], int]) -> dict[str, int]:
    out: dict[str, int] = {ORG: 0}
    for g in groups:
        amount = value(g)
        dims = g.dims
        scopes = [team_scope(dims["team"]), ORG]
        if "environment" in dims:
            scopes.append(env_scope(dims["team"], dims["environment"]))
        if dims.get("key"):
            scopes.append(key_scope(dims["key"]))
        for scope in scopes:
            out[scope] = out.get(scope, 0) + amount
    return out


SPEND_DIMENSIONS = ("team", "environment", "key")
"""How the ledger's sums are grouped to load every scope's settled spend."""
