"""Build a :class:`Report` from the store's grouped sums (three queries, no records loaded).

Per team: requests, refusals by reason, failed requests, input and output
tokens, cost, monthly budget, the share of that budget the period's cost is,
the top model by cost, and the change against the previous period. With
``by`` (environment, purpose, model, key, user or ``tag:KEY``) also a breakdown per
team and value; with ``user`` or ``tag:KEY`` the values of one team sum to its line
(the records without an end user, or without that tag, are the value "").

>>> # report = await build_report(store, settings, week_named("2026-W47", "UTC"), by="model")
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from teamgate.config.schema import Settings
from teamgate.ledger.attribution import is_attribution_dimension
from teamgate.ledger.summary import UsageGroup
from teamgate.pricing.money import usd_to_pico
from teamgate.reports.periods import ReportPeriod

BREAKDOWNS: tuple[str, ...] = ("environment", "purpose", "model", "key", "user")
BREAKDOWN_HELP = "environment, purpose, model, key, user or tag:KEY (e.g. tag:feature)"


def check_breakdown(by: str) -> str:
    """``by`` if a report can break down by it, else ValueError saying what can.

    >>> check_breakdown("tag:feature")
    'tag:feature'
    """
    if by in BREAKDOWNS or is_attribution_dimension(by):
        return by
    raise ValueError(f"--by must be one of {BREAKDOWN_HELP}, got {by!r}")


_CENT = Decimal("0.01")


class SummarySource(Protocol):
    """The part of the store reports read."""

    async def usage_summary(
        self,
        start: float,
        end: float,
        group_by: tuple[str, ...] = (),
        *,
        tz: str = "UTC",
        team: str | None = None,
    ) -> list[UsageGroup]: ...


def percent(part: int, whole: int | None) -> Decimal | None:
    """``part`` as a percentage of ``whole``, to the hundredth (half up); None without a whole.

    >>> percent(1, 3), percent(5, 0), percent(5, None)
    (Decimal('33.33'), None, None)
    """
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(_CENT, ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class TeamLine:
    """One team's figures for the period (money in picodollars)."""

    team: str
    requests: int = 0
    refusals: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_pusd: int = 0
    budget_pusd: int | None = None
    top_model: str | None = None
    previous_requests: int = 0
    previous_cost_pusd: int = 0

    @property
    def refused(self) -> int:
        return sum(self.refusals.values())

    @property
    def budget_used_percent(self) -> Decimal | None:
        """The period's cost as a percentage of the monthly budget."""
        return percent(self.cost_pusd, self.budget_pusd)

    @property
    def cost_change_pusd(self) -> int:
        return self.cost_pusd - self.previous_cost_pusd

    @property
    def cost_change_percent(self) -> Decimal | None:
        """Change of cost against the previous period, in percent (None if it cost nothing)."""
        return percent(self.cost_change_pusd, self.previous_cost_pusd)


@dataclass(frozen=True, slots=True)
class BreakdownLine:
    """A team's figures for one value of the breakdown dimension."""

    team: str
    value: str
    requests: int
    refused: int
    prompt_tokens: int
    completion_tokens: int
    cost_pusd: int


@dataclass(frozen=True, slots=True)
class Report:
    """A weekly or monthly report. ``total`` sums every team (its budget is the org's)."""

    period: ReportPeriod
    previous: ReportPeriod
    teams: list[TeamLine]
    total: TeamLine
    by: str | None = None
    breakdown: list[BreakdownLine] = field(default_factory=list)
    generated_at: float = 0.0


def _budgets(settings: Settings) -> dict[str, int | None]:
    return {
        name: None if t.monthly_budget_usd is None else usd_to_pico(t.monthly_budget_usd)
        for name, t in settings.teams.items()
    }


def _top_model(costs: dict[str, int]) -> str | None:
    """The model with the highest cost (ties: the first by name); None if nothing cost."""
    best = sorted(costs.items(), key=lambda item: (-item[1], item[0]))
    return best[0][0] if best and best[0][1] > 0 else None


async def build_report(
    store: SummarySource,
    settings: Settings,
    period: ReportPeriod,
    *,
    by: str | None = None,
    now: float | None = None,
) -> Report:
    """Query the store and assemble the report for ``period`` (and its previous period)."""
    if by is not None:
        check_breakdown(by)
    tz = period.timezone
    previous = period.previous()
    current = await store.usage_summary(
        period.start_ts, period.end_ts, ("team", "model", "refusal"), tz=tz
    )
    before = await store.usage_summary(previous.start_ts, previous.end_ts, ("team",), tz=tz)
    budgets = _budgets(settings)
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    refusals: dict[str, dict[str, int]] = defaultdict(dict)
    model_costs: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for g in current:
        team = g["team"]
        acc = sums[team]
        acc[0] += g.requests
        acc[1] += g.errors
        acc[2] += g.prompt_tokens
        acc[3] += g.completion_tokens
        acc[4] += g.cost_pusd
        if g["refusal"]:
            refusals[team][g["refusal"]] = refusals[team].get(g["refusal"], 0) + g.refusals
        if g["model"]:
            model_costs[team][g["model"]] += g.cost_pusd
    prev = {g["team"]: g for g in before}
    names = sorted(set(budgets) | set(sums) | set(prev))
    lines = []
    for team in names:
        requests, errors, prompt, completion, cost = sums.get(team, [0, 0, 0, 0, 0])
        p = prev.get(team)
        lines.append(
            TeamLine(
                team=team,
                requests=requests,
                refusals=dict(sorted(refusals.get(team, {}).items())),
                errors=errors,
                prompt_tokens=prompt,
                completion_tokens=completion,
                cost_pusd=cost,
                budget_pusd=budgets.get(team),
                top_model=_top_model(model_costs.get(team, {})),
                previous_requests=p.requests if p else 0,
                previous_cost_pusd=p.cost_pusd if p else 0,
            )
        )
    all_models: dict[str, int] = defaultdict(int)
    all_refusals: dict[str, int] = defaultdict(int)
    for team in names:
        for model, cost in model_costs.get(team, {}).items():
            all_models[model] += cost
        for reason, n in refusals.get(team, {}).items():
            all_refusals[reason] += n
    org = settings.org.monthly_budget_usd
    total = TeamLine(
        team="TOTAL",
        requests=sum(line.requests for line in lines),
        refusals=dict(sorted(all_refusals.items())),
        errors=sum(line.errors for line in lines),
        prompt_tokens=sum(line.prompt_tokens for line in lines),
        completion_tokens=sum(line.completion_tokens for line in lines),
        cost_pusd=sum(line.cost_pusd for line in lines),
        budget_pusd=None if org is None else usd_to_pico(org),
        top_model=_top_model(all_models),
        previous_requests=sum(line.previous_requests for line in lines),
        previous_cost_pusd=sum(line.previous_cost_pusd for line in lines),
    )
    breakdown: list[BreakdownLine] = []
    if by is not None:
        for g in await store.usage_summary(period.start_ts, period.end_ts, ("team", by), tz=tz):
            breakdown.append(
                BreakdownLine(
                    g["team"],
                    g[by],
                    g.requests,
                    g.refusals,
                    g.prompt_tokens,
                    g.completion_tokens,
                    g.cost_pusd,
                )
            )
    return Report(
        period,
        previous,
        lines,
        total,
        by,
        breakdown,
        generated_at=time.time() if now is None else now,
    )
