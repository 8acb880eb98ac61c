"""The monthly budget of every scope, and a scope's month measured against it.

:class:`Budgets` holds what is configured, in exact picodollars: each team's, each
environment's and the org's from the settings, each key's as keys are seen (a key's
budget comes with the key, not the settings). :class:`BudgetStatus` is one scope's
month-to-date state (the usage API, the dashboard, ``teamgate info``).

>>> from decimal import Decimal
>>> from teamgate.config.schema import Settings, TeamConfig
>>> team = TeamConfig("chatbot", ("m",), 100, monthly_budget_usd=Decimal("0.5"))
>>> budgets = Budgets(Settings(teams={"chatbot": team}))
>>> budgets.of("team:chatbot"), budgets.of("org")
(500000000000, None)
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from teamgate.budget.scopes import env_scope, scope_kind
from teamgate.config.errors import ConfigError
from teamgate.config.schema import Settings
from teamgate.pricing.money import usd_to_pico


def _budget_pico(dollars: Decimal, path: str) -> int:
    """Exact picodollars of a configured budget; a ConfigError if it has sub-picodollar digits."""
    try:
        return usd_to_pico(dollars)
    except ValueError:
        raise ConfigError(path, f"{dollars} has more than 12 decimals") from None


class Budgets:
    """The budget of every scope (``key:…``, ``env:…``, ``team:…``, ``org``), picodollars;
    None where a scope has none. ``keys`` are the budgets of the keys seen so far (kept
    when the settings are reloaded)."""

    def __init__(self, settings: Settings, keys: dict[str, int] | None = None) -> None:
        self.teams: dict[str, int | None] = {
            name: None
            if team.monthly_budget_usd is None
            else _budget_pico(team.monthly_budget_usd, f"teams.{name}.monthly_budget_usd")
            for name, team in settings.teams.items()
        }
        self.envs: dict[str, int | None] = {  # "env:team/env" -> budget
            env_scope(name, env_name): None
            if env.monthly_budget_usd is None
            else _budget_pico(
                env.monthly_budget_usd,
                f"teams.{name}.environments.{env_name}.monthly_budget_usd",
            )
            for name, team in settings.teams.items()
            for env_name, env in team.environments.items()
        }
        org = settings.org.monthly_budget_usd
        self.org = None if org is None else _budget_pico(org, "org.monthly_budget_usd")
        self.keys: dict[str, int] = {} if keys is None else keys  # "key:name" -> budget

    def of(self, scope: str) -> int | None:
        """The budget of any scope; None: none."""
        kind = scope_kind(scope)
        if kind == "team":
            return self.teams.get(scope.partition(":")[2])
        if kind == "env":
            return self.envs.get(scope)
        if kind == "key":
            return self.keys.get(scope)
        return self.org

    def narrow(self) -> dict[str, int]:
        """The environments and keys (seen so far) that have a budget of their own."""
        out = {s: b for s, b in self.envs.items() if b is not None}
        out.update(self.keys)
        return out


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """Month-to-date state of one scope: a key, an environment, a team, or the org
    (``team`` is None for the org)."""

    scope: str  # "key:<name>", "env:<team>/<env>", "team:<name>" or "org"
    team: str | None
    period: str
    settled_pico: int
    reserved_pico: int
    budget_pico: int | None

    @property
    def percent(self) -> float | None:
        """Settled spend as a percentage of the budget (display only)."""
        if not self.budget_pico:
            return None
        return self.settled_pico * 100 / self.budget_pico
