"""``GET /teamgate/v1/usage``: a team reads its own month to date with its own ``tg_`` key.

The answer holds the team's usage this budget month (from the ledger), its
budget, what remains, every budget the key's requests are reserved against
(``scopes``: the key's own, its environment's, the team's, the org's), and its
limits; nothing of any other team. Asking for
another team (``?team=other``) is 403, Groq-shaped. ``?by=user`` or ``?by=tag:KEY``
(e.g. ``tag:feature``) adds ``usage.breakdown``: the month per end user or per value
of that tag, highest cost first; its lines sum to the team's usage.

>>> # curl -H "Authorization: Bearer tg_..." http://gateway/teamgate/v1/usage?by=user
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs

import orjson

from teamgate.budget import BudgetStatus, month_of
from teamgate.http.asgi import JSON, Scope, Send, header, send_bytes
from teamgate.http.errors import InvalidRequest, PermissionDenied
from teamgate.ledger.attribution import is_attribution_dimension
from teamgate.lifecycle import payer_of
from teamgate.pricing.money import exact_usd
from teamgate.runtime import Gateway


def scope_json(s: BudgetStatus) -> dict[str, Any]:
    """One budget scope as the usage API shows it: its budget, spend and what is left."""
    remaining = (
        None if s.budget_pico is None else max(0, s.budget_pico - s.settled_pico - s.reserved_pico)
    )
    return {
        "scope": s.scope,
        "monthly_budget_usd": exact_usd(s.budget_pico),
        "settled_usd": exact_usd(s.settled_pico),
        "reserved_usd": exact_usd(s.reserved_pico),
        "remaining_usd": exact_usd(remaining),
    }


async def handle_team_usage(gw: Gateway, scope: Scope, send: Send) -> None:
    key = gw.keys.authenticate(header(scope, b"authorization"))
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    for asked in query.get("team", []):
        if asked != key.team:
            raise PermissionDenied(
                f"A key of team `{key.team}` can read only its own usage, not team `{asked}`'s."
            )
    by = (query.get("by") or [""])[-1]
    if by and not is_attribution_dimension(by):
        raise InvalidRequest(
            "`by` must be user or tag:KEY (e.g. tag:feature)", code="invalid_parameter"
        )
    tz = gw.settings.org.timezone
    period = month_of(time.time(), tz)
    await gw.ledger.flush()
    assert gw.store is not None
    groups = await gw.store.usage_summary(
        period.start_ts, period.end_ts, ("model",), tz=tz, team=key.team
    )
    budget = gw.budget.budget_pico(key.team)
    scopes = gw.budget.scopes_of(payer_of(key))  # the key's, its environment's, team's, org's
    settled = next((s.settled_pico for s in scopes if s.scope == f"team:{key.team}"), 0)
    remaining = gw.budget.remaining_pico(key.team)
    team_cfg = gw.settings.teams.get(key.team)
    limits: dict[str, Any] = {}
    if team_cfg is not None:
        lim = team_cfg.limits
        limits = {
            "rpm": lim.rpm,
            "rpd": lim.rpd,
            "tpm": lim.tpm,
            "tpd": lim.tpd,
            "concurrency": lim.concurrency,
            "max_tokens_per_request": team_cfg.max_tokens_per_request,
            "on_limit": team_cfg.on_limit,
            "allowed_models": list(team_cfg.allowed_models),
            "current": gw.limiter.headers(key.team),
        }
    cost = sum(g.cost_pusd for g in groups)
    body: dict[str, Any] = {
        "team": key.team,
        "key": key.name,
        "period": period.key,
        "timezone": tz,
        "usage": {
            "requests": sum(g.requests for g in groups),
            "refusals": sum(g.refusals for g in groups),
            "prompt_tokens": sum(g.prompt_tokens for g in groups),
            "completion_tokens": sum(g.completion_tokens for g in groups),
            "cost_pusd": cost,
            "cost_usd": exact_usd(cost),
            "by_model": [
                {
                    "model": g["model"],
                    "requests": g.requests,
                    "prompt_tokens": g.prompt_tokens,
                    "completion_tokens": g.completion_tokens,
                    "cost_pusd": g.cost_pusd,
                    "cost_usd": exact_usd(g.cost_pusd),
                }
                for g in groups
            ],
        },
        "budget": {
            "monthly_budget_pusd": budget,
            "monthly_budget_usd": exact_usd(budget),
            "settled_pusd": settled,
            "settled_usd": exact_usd(settled),
            "remaining_pusd": remaining,
            "remaining_usd": exact_usd(remaining),
            "resets_at": period.reset_text(),
        },
        "scopes": [scope_json(s) for s in scopes],
        "limits": limits,
    }
    if by:
        lines = await gw.store.usage_summary(
            period.start_ts, period.end_ts, (by,), tz=tz, team=key.team
        )
        lines.sort(key=lambda g: (-g.cost_pusd, g[by]))
        body["usage"]["by"] = by
        body["usage"]["breakdown"] = [
            {
                "value": g[by],
                "requests": g.requests,
                "refusals": g.refusals,
                "prompt_tokens": g.prompt_tokens,
                "completion_tokens": g.completion_tokens,
                "cost_pusd": g.cost_pusd,
                "cost_usd": exact_usd(g.cost_pusd),
            }
            for g in lines
        ]
    await send_bytes(send, 200, orjson.dumps(body), [JSON])
