"""Shared builders for budget tests."""

from __future__ import annotations

from decimal import Decimal

from teamgate.config.schema import OrgConfig, Settings, TeamConfig

NOV_1_2026_UTC = 1793491200.0  # 2026-11-01 00:00:00 UTC
DEC_1_2026_UTC = 1796083200.0


def make_settings(
    team_budgets: dict[str, Decimal | None],
    org_budget: Decimal | None = None,
    timezone: str = "UTC",
) -> Settings:
    teams = {
        name: TeamConfig(name, ("llama-3.1-8b-instant",), 1000, monthly_budget_usd=budget)
        for name, budget in team_budgets.items()
    }
    return Settings(teams=teams, org=OrgConfig(monthly_budget_usd=org_budget, timezone=timezone))


class FakeClock:
    """A settable wall clock."""

    def __init__(self, now: float = NOV_1_2026_UTC + 86400 * 14) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
