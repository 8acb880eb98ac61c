"""The admin API's route table: one :class:`Route` per operation.

The dispatcher matches requests against it and the OpenAPI document
(``/admin/openapi.json``) is generated from it, so the two cannot disagree.

>>> match_route("POST", "/admin/keys/chatbot-prod-web/revoke")[0].operation_id
'revokeKey'
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from teamgate.admin import audit_api, handlers, keys_api, pauses_api
from teamgate.admin.context import AdminRequest, Reply
from teamgate.dashboard.overview import get_overview

Handler = Callable[[AdminRequest], Awaitable[Reply]]
Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
NULLABLE_STRING: Schema = {"type": ["string", "null"]}
NULLABLE_INT: Schema = {"type": ["integer", "null"]}


@dataclass(frozen=True)
class Param:
    """A query parameter."""

    name: str
    description: str
    schema: Schema = field(default_factory=lambda: dict(STRING))


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # may hold {name} segments
    operation_id: str
    summary: str
    handler: Handler
    response: str  # a schema name in SCHEMAS
    status: int = 200
    query: tuple[Param, ...] = ()
    body: str | None = None  # a schema name in SCHEMAS
    body_required: bool = True
    errors: tuple[int, ...] = ()
    action: str = "admin"  # what the caller must be allowed (``Principal.can``)
    team_scoped: bool = False  # team admins/viewers may call it; the handler checks each team

    @property
    def segments(self) -> list[str]:
        return self.path.strip("/").split("/")


_MONEY = {
    "cost_pusd": INT,
    "cost_usd": STRING,
}
_SUMS = {
    "requests": INT,
    "refusals": INT,
    "errors": INT,
    "prompt_tokens": INT,
    "completion_tokens": INT,
    "cached_tokens": INT,
    **_MONEY,
}
_KEY_FIELDS: Schema = {
    "name": STRING,
    "team": STRING,
    "environment": STRING,
    "purpose": STRING,
    "fingerprint": STRING,
    "created_at": NULLABLE_STRING,
    "expires_at": NULLABLE_STRING,
    "revoked_at": NULLABLE_STRING,
    "last_used_at": NULLABLE_STRING,
    "state": {"type": "string", "enum": ["active", "in-grace", "expired", "revoked"]},
    "role": {"type": "string", "enum": ["client", "team-admin", "viewer"]},
    "budget_usd": NULLABLE_STRING,
}


def _obj(props: Schema, required: list[str] | None = None, extra: bool = False) -> Schema:
    out: Schema = {"type": "object", "properties": props}
    out["required"] = list(props) if required is None else required
    if not extra:
        out["additionalProperties"] = False
    return out


_TEAM_LINE = _obj(
    {
        "team": STRING,
        "requests": INT,
        "refusals": INT,
        "refusals_by_reason": {"type": "object", "additionalProperties": INT},
        "errors": INT,
        "prompt_tokens": INT,
        "completion_tokens": INT,
        "cost_pusd": INT,
        "cost_usd": STRING,
        "monthly_budget_pusd": NULLABLE_INT,
        "monthly_budget_usd": NULLABLE_STRING,
        "budget_used_percent": NULLABLE_STRING,
        "top_model": NULLABLE_STRING,
        "previous_requests": INT,
        "previous_cost_pusd": INT,
        "previous_cost_usd": STRING,
        "cost_change_pusd": INT,
        "cost_change_usd": STRING,
        "cost_change_percent": NULLABLE_STRING,
    }
)

_PAUSE_FIELDS: dict[str, Schema] = {
    "scope": STRING,
    "kind": {"type": "string", "enum": ["team", "environment", "key"]},
    "name": STRING,
    "reason": STRING,
    "paused_at": STRING,
    "until": NULLABLE_STRING,
    "active": {"type": "boolean"},
    "actor": STRING,
}

SCHEMAS: dict[str, Schema] = {
    "Error": _obj(
        {"error": _obj({"message": STRING, "type": STRING, "code": STRING})},
    ),
    "Usage": _obj(
        {
            "from": STRING,
            "to": STRING,
            "timezone": STRING,
            "group_by": {"type": "array", "items": STRING},
            "groups": {
                "type": "array",
                "items": _obj(
                    {**_SUMS, **{d: STRING for d in handlers.USAGE_DIMENSIONS}},
                    required=list(_SUMS),
                ),
            },
            "total": _obj(_SUMS),
        }
    ),
    "Report": _obj(
        {
            "kind": {"type": "string", "enum": ["weekly", "monthly"]},
            "period": STRING,
            "timezone": STRING,
            "start": STRING,
            "end": STRING,
            "previous_period": STRING,
            "generated_at": STRING,
            "teams": {"type": "array", "items": _TEAM_LINE},
            "total": _TEAM_LINE,
            "by": NULLABLE_STRING,
            "breakdown": {
                "type": "array",
                "items": _obj(
                    {
                        "team": STRING,
                        "value": STRING,
                        "requests": INT,
                        "refusals": INT,
                        "prompt_tokens": INT,
                        "completion_tokens": INT,
                        **_MONEY,
                    }
                ),
            },
        }
    ),
    "Key": _obj(_KEY_FIELDS),
    "KeyList": _obj({"keys": {"type": "array", "items": _obj(_KEY_FIELDS)}}),
    "KeyCreated": _obj({**_KEY_FIELDS, "key": STRING}),
    "Pause": _obj(_PAUSE_FIELDS),
    "PauseList": _obj({"pauses": {"type": "array", "items": _obj(_PAUSE_FIELDS)}}),
    "PauseCreate": _obj(
        {
            "scope": {"type": "string", "pattern": pauses_api.SCOPE_PATTERN},
            "reason": {"type": "string", "minLength": 1, "maxLength": 500},
            "until": {"type": "string", "pattern": "^[1-9][0-9]*[smhdw]$"},
        },
        required=["scope", "reason"],
    ),
    "PauseResume": _obj(
        {"scope": {"type": "string", "pattern": pauses_api.SCOPE_PATTERN}}, required=["scope"]
    ),
    "KeyCreate": _obj(
        {
            "team": {"type": "string", "minLength": 1},
            "environment": {"type": "string", "minLength": 1},
            "purpose": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_]{0,39}$"},
            "expires_in": {"type": "string", "pattern": "^[1-9][0-9]*[smhdw]$"},
            "budget_usd": {
                "anyOf": [
                    {"type": "string", "pattern": "^[0-9]{1,7}(\\.[0-9]{1,12})?$"},
                    {"type": "number", "minimum": 0, "maximum": 1000000},
                ],
                "description": "a client key's own monthly budget in USD (exact as a string; at "
                "most 1000000); "
                "the environment's, team's and org's budgets still apply",
            },
            "role": {
                "type": "string",
                "enum": ["client", "team-admin", "viewer"],
                "description": "client (default): a `tg_` key for the proxy, needs "
                "`environment`; team-admin or viewer: a `tga_` credential for the admin API "
                "and the dashboard (admin only)",
            },
        },
        required=["team", "purpose"],
    ),
    "KeyRotate": _obj(
        {"grace": {"type": "string", "pattern": "^[1-9][0-9]*[smhdw]$"}}, required=[]
    ),
    "KeyRotated": _obj({"old": _obj(_KEY_FIELDS), "new": _obj({**_KEY_FIELDS, "key": STRING})}),
    "Upstream": _obj(
        {
            "projects": {
                "type": "array",
                "items": _obj(
                    {
                        "project": STRING,
                        "team": STRING,
                        "environment": STRING,
                        "keys": {
                            "type": "array",
                            "items": _obj(
                                {
                                    "name": STRING,
                                    "state": {
                                        "type": "string",
                                        "enum": ["active", "draining", "retired"],
                                    },
                                    "fingerprint": STRING,
                                    "requests": INT,
                                    "requests_24h": INT,
                                    "failures": INT,
                                    "last_used": NULLABLE_STRING,
                                    "backing_off": {"type": "boolean"},
                                }
                            ),
                        },
                    }
                ),
            }
        }
    ),
    "Budget": _obj(
        {
            "period": STRING,
            "scopes": {
                "type": "array",
                "items": _obj(
                    {
                        "scope": STRING,
                        "team": NULLABLE_STRING,
                        "period": STRING,
                        "settled_pusd": INT,
                        "settled_usd": STRING,
                        "reserved_pusd": INT,
                        "budget_pusd": NULLABLE_INT,
                        "budget_usd": NULLABLE_STRING,
                        "remaining_pusd": NULLABLE_INT,
                        "remaining_usd": NULLABLE_STRING,
                    }
                ),
            },
        }
    ),
    "Reloaded": _obj(
        {
            "reloaded": {"type": "boolean"},
            "source": STRING,
            "teams": {"type": "array", "items": STRING},
        }
    ),
    "Overview": {"type": "object", "required": ["period", "teams", "daily", "models"]},
    "AuditPage": _obj(
        {
            "entries": {
                "type": "array",
                "items": _obj(
                    {
                        "id": INT,
                        "ts": {"type": "number"},
                        "actor": STRING,
                        "action": STRING,
                        "target": STRING,
                        "before": {"type": "object"},
                        "after": {"type": "object"},
                        "source": STRING,
                    }
                ),
            },
            "next_before": NULLABLE_INT,
        }
    ),
}

# An instant: unix seconds, a date or a date-time; from 1970 up to 9999-01-01 (else 400).
# Empty (like absent): the default.
INSTANT: Schema = {
    "anyOf": [
        {"type": "string", "pattern": r"^([0-9]{1,11}(\.[0-9]{1,9})?)?$"},
        {"type": "string", "format": "date"},
        {"type": "string", "format": "date-time"},
    ]
}
# Report years: 1970 to 9998.
_YEAR = "(19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
_FROM = Param(
    "from",
    "Start (inclusive): unix seconds, YYYY-MM-DD or ISO 8601. Default: month start.",
    INSTANT,
)
_TO = Param("to", "End (exclusive), same formats. Default: now.", INSTANT)
# tag:KEY: the value of one attribution tag (x-teamgate-tags), e.g. tag:feature.
_DIM = "(team|environment|purpose|model|key|day|user|tag:[a-z][a-z0-9_-]{0,31})"
_GROUP_BY = Param(
    "group_by",
    "Comma-separated dimensions: team, environment, purpose, model, key, day, user "
    "(the end user), tag:KEY (a feature tag, e.g. tag:feature). Default: team.",
    {
        "type": "string",
        "pattern": f"^({_DIM}(,{_DIM})*)?$",
    },
)
_BY = Param(
    "by",
    "Also break down per team by this (empty: no breakdown): environment, purpose, model, "
    "key, user (the end user) or tag:KEY (a feature tag, e.g. tag:feature).",
    {
        "type": "string",
        "pattern": "^(|environment|purpose|model|key|user|tag:[a-z][a-z0-9_-]{0,31})$",
    },
)

ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/admin/usage",
        "getUsage",
        "Usage sums grouped by dimensions",
        handlers.get_usage,
        "Usage",
        query=(_FROM, _TO, _GROUP_BY),
        errors=(400,),
        action="usage.read",
        team_scoped=True,
    ),
    Route(
        "GET",
        "/admin/reports/weekly",
        "getWeeklyReport",
        "The weekly report (ISO week)",
        handlers.get_weekly_report,
        "Report",
        query=(
            Param(
                "week",
                "ISO week like 2026-W47 (years 1970-9998); default the last complete week.",
                {"type": "string", "pattern": f"^({_YEAR}-W(0[1-9]|[1-4][0-9]|5[0-3]))?$"},
            ),
            _BY,
        ),
        errors=(400,),
        action="reports.read",
    ),
    Route(
        "GET",
        "/admin/reports/monthly",
        "getMonthlyReport",
        "The monthly report",
        handlers.get_monthly_report,
        "Report",
        query=(
            Param(
                "month",
                "Month like 2026-11 (years 1970-9998); default this month.",
                {"type": "string", "pattern": f"^({_YEAR}-(0[1-9]|1[0-2]))?$"},
            ),
            _BY,
        ),
        errors=(400,),
        action="reports.read",
    ),
    Route(
        "GET",
        "/admin/keys",
        "listKeys",
        "List team keys (never a secret)",
        keys_api.list_keys,
        "KeyList",
        query=(
            Param(
                "include_revoked",
                "Include revoked keys.",
                {"type": "string", "enum": ["true", "false"]},
            ),
        ),
        errors=(400,),
        action="keys.read",
        team_scoped=True,
    ),
    Route(
        "POST",
        "/admin/keys",
        "createKey",
        "Create a team key; the secret is returned once",
        keys_api.create_key,
        "KeyCreated",
        status=201,
        body="KeyCreate",
        errors=(400, 409),
        action="keys.create",
        team_scoped=True,
    ),
    Route(
        "POST",
        "/admin/keys/{name}/revoke",
        "revokeKey",
        "Revoke a team key",
        keys_api.revoke_key,
        "Key",
        errors=(404,),
        action="keys.revoke",
        team_scoped=True,
    ),
    Route(
        "POST",
        "/admin/keys/{name}/rotate",
        "rotateKey",
        "Issue a successor under this name; the old key, renamed `NAME@rotated-<time>`, "
        "works for `grace` (default 7d)",
        keys_api.rotate_key,
        "KeyRotated",
        body="KeyRotate",
        body_required=False,
        errors=(400, 404, 409),
        action="keys.rotate",
        team_scoped=True,
    ),
    Route(
        "GET",
        "/admin/pauses",
        "listPauses",
        "Pauses of the teams, environments and keys the caller may see",
        pauses_api.list_pauses,
        "PauseList",
        action="pauses.read",
        team_scoped=True,
    ),
    Route(
        "POST",
        "/admin/pauses",
        "pauseScope",
        "Pause a team, TEAM/ENV or key now: its requests get 403 `scope_paused` on every "
        "instance within 2 s",
        pauses_api.pause_scope,
        "Pause",
        status=201,
        body="PauseCreate",
        errors=(400, 404),
        action="keys.pause",
        team_scoped=True,
    ),
    Route(
        "POST",
        "/admin/pauses/resume",
        "resumeScope",
        "Lift a pause",
        pauses_api.resume_scope,
        "Pause",
        body="PauseResume",
        errors=(400, 404),
        action="keys.resume",
        team_scoped=True,
    ),
    Route(
        "GET",
        "/admin/upstream",
        "getUpstream",
        "Upstream key status per project",
        handlers.get_upstream,
        "Upstream",
        action="upstream.read",
    ),
    Route(
        "POST",
        "/admin/reload",
        "reload",
        "Re-read the config file and apply it",
        handlers.post_reload,
        "Reloaded",
        errors=(400,),
        action="config.reload",
    ),
    Route(
        "GET",
        "/admin/budget",
        "getBudget",
        "Month-to-date budget of every team and the org",
        handlers.get_budget,
        "Budget",
        action="budget.read",
        team_scoped=True,
    ),
    Route(
        "GET",
        "/admin/overview",
        "getOverview",
        "Everything the dashboard shows: spend vs budget, projection, daily spend, mix",
        get_overview,
        "Overview",
        action="overview.read",
    ),
    Route(
        "GET",
        "/admin/audit",
        "getAudit",
        "The audit trail (who changed what, when, from where), newest first, in pages",
        audit_api.get_audit,
        "AuditPage",
        query=(
            Param(
                "since",
                "Unix seconds, YYYY-MM-DD, ISO 8601, or a duration back from now (24h, 7d).",
            ),
            Param("limit", "Entries per page, 1-1000 (default 100).", {"type": "string"}),
            Param("before", "The previous page's next_before.", {"type": "string"}),
        ),
        errors=(400,),
        action="audit.read",
    ),
)


def match_route(method: str, path: str) -> tuple[Route, dict[str, str]] | tuple[None, bool]:
    """The route and path parameters, or ``(None, path_exists_with_other_method)``."""
    parts = path.rstrip("/").strip("/").split("/")
    path_known = False
    for route in ROUTES:
        segs = route.segments
        if len(segs) != len(parts):
            continue
        params: dict[str, str] = {}
        for seg, part in zip(segs, parts, strict=True):
            if seg.startswith("{"):
                if not part:
                    break
                params[seg[1:-1]] = part
            elif seg != part:
                break
        else:
            if route.method == method:
                return route, params
            path_known = True
    return None, path_known
