"""``GET /admin/overview``: everything the dashboard draws, in one JSON document.

Month-to-date spend per team from the ledger against its budget, the projection
to month end and the date it runs out, daily spend per team, the model mix,
refusals by reason and the upstream keys' rotation state.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from teamgate.admin.context import AdminRequest, Reply
from teamgate.admin.handlers import iso, upstream_json
from teamgate.budget import month_of
from teamgate.dashboard.projection import project
from teamgate.ledger.rollup import day_starts
from teamgate.pricing.money import exact_usd, usd_to_pico


async def get_overview(req: AdminRequest) -> Reply:
    gw = req.gw
    store = gw.store
    assert store is not None
    tz = gw.settings.org.timezone
    now = time.time()
    period = month_of(now, tz)
    await gw.ledger.flush()
    start, end = period.start_ts, period.end_ts
    by_team = {g["team"]: g for g in await store.usage_summary(start, end, ("team",), tz=tz)}
    daily = await store.usage_summary(start, end, ("day", "team"), tz=tz)
    models = await store.usage_summary(start, end, ("model",), tz=tz)
    refusals = await store.usage_summary(start, end, ("refusal",), tz=tz)
    zone = ZoneInfo(tz)

    def day_of(ts: int | None) -> str | None:
        return None if ts is None else datetime.fromtimestamp(ts, zone).date().isoformat()

    teams: list[dict[str, Any]] = []
    names = sorted(set(gw.settings.teams) | set(by_team))
    for name in names:
        cfg = gw.settings.teams.get(name)
        budget = (
            None
            if cfg is None or cfg.monthly_budget_usd is None
            else usd_to_pico(cfg.monthly_budget_usd)
        )
        g = by_team.get(name)
        spent = g.cost_pusd if g else 0
        p = project(spent, budget, int(start), int(end), int(now))
        teams.append(
            {
                "team": name,
                "spent_pusd": spent,
                "spent_usd": exact_usd(spent),
                "requests": g.requests if g else 0,
                "refusals": g.refusals if g else 0,
                "budget_pusd": budget,
                "budget_usd": exact_usd(budget),
                "projected_pusd": p.projected_pusd,
                "projected_usd": exact_usd(p.projected_pusd),
                "runs_out_on": day_of(p.runs_out_at),
            }
        )
    org_budget = gw.settings.org.monthly_budget_usd
    org_budget_pico = None if org_budget is None else usd_to_pico(org_budget)
    org_spent = sum(t["spent_pusd"] for t in teams)
    org_p = project(org_spent, org_budget_pico, int(start), int(end), int(now))
    return Reply(
        200,
        {
            "period": period.key,
            "timezone": tz,
            "now": iso(now),
            "days": [label for _, label in day_starts(start, end, tz)],
            "teams": teams,
            "org": {
                "spent_pusd": org_spent,
                "spent_usd": exact_usd(org_spent),
                "budget_pusd": org_budget_pico,
                "budget_usd": exact_usd(org_budget_pico),
                "projected_usd": exact_usd(org_p.projected_pusd),
                "runs_out_on": day_of(org_p.runs_out_at),
            },
            "daily": [
                {
                    "day": g["day"],
                    "team": g["team"],
                    "cost_pusd": g.cost_pusd,
                    "cost_usd": exact_usd(g.cost_pusd),
                }
                for g in daily
            ],
            "models": [
                {
                    "model": g["model"],
                    "requests": g.requests,
                    "cost_pusd": g.cost_pusd,
                    "cost_usd": exact_usd(g.cost_pusd),
                }
                for g in sorted(models, key=lambda g: (-g.cost_pusd, g["model"]))
            ],
            "refusals": [
                {"reason": g["refusal"], "count": g.requests}
                for g in sorted(refusals, key=lambda g: (-g.requests, g["refusal"]))
                if g["refusal"]
            ],
            "upstream": await upstream_json(gw),
        },
    )
