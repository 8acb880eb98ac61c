"""Which limits one request is checked against: the admission plan.

:func:`build_plan` turns the settings, a team, a model and a token count into
the rate checks and concurrency slots of one admission, each tagged with its
scope (team, team's model, org, org's model) and metric, so a refusal can be
explained in Groq's words. Keys follow the counter protocol's naming
(``team:T:rpm``, ``team:T:model:M:tpm``, ``org:rpd``, ``org:model:M:tpd``,
``team:T:concurrency``, ...).

>>> from teamgate.config.schema import Limits, Settings, TeamConfig
>>> team = TeamConfig("chatbot", ("m",), 4096, limits=Limits(rpm=60, tpm=10000))
>>> plan = build_plan(Settings(teams={"chatbot": team}), "chatbot", "m", tokens=2000)
>>> [(c.check.key, c.check.cost) for c in plan.checks]
[('team:chatbot:rpm', 1), ('team:chatbot:tpm', 2000)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from teamgate.config.schema import Limits, Settings
from teamgate.limits.counters import RateCheck

Metric = Literal["rpm", "rpd", "tpm", "tpd", "ash", "asd"]
Scope = Literal["team", "team_model", "org", "org_model"]

METRICS: tuple[Metric, ...] = ("rpm", "rpd", "tpm", "tpd", "ash", "asd")
PERIOD_S: dict[Metric, float] = {
    "rpm": 60.0,
    "rpd": 86400.0,
    "tpm": 60.0,
    "tpd": 86400.0,
    "ash": 3600.0,
    "asd": 86400.0,
}
METRIC_NAMES: dict[Metric, str] = {
    "rpm": "requests per minute (RPM)",
    "rpd": "requests per day (RPD)",
    "tpm": "tokens per minute (TPM)",
    "tpd": "tokens per day (TPD)",
    "ash": "audio seconds per hour (ASH)",
    "asd": "audio seconds per day (ASD)",
}


def team_key(team: str, metric: str, model: str | None = None) -> str:
    """``team:T:METRIC`` or ``team:T:model:M:METRIC`` (METRIC may be ``concurrency``)."""
    return f"team:{team}:{metric}" if model is None else f"team:{team}:model:{model}:{metric}"


def org_key(metric: str, model: str | None = None) -> str:
    """``org:METRIC`` or ``org:model:M:METRIC``."""
    return f"org:{metric}" if model is None else f"org:model:{model}:{metric}"


@dataclass(frozen=True, slots=True)
class PlannedCheck:
    """A rate check with what it means: its scope and metric."""

    check: RateCheck
    scope: Scope
    metric: Metric

    @property
    def is_org(self) -> bool:
        return self.scope in ("org", "org_model")

    @property
    def is_tokens(self) -> bool:
        return self.metric in ("tpm", "tpd")


@dataclass(frozen=True, slots=True)
class PlannedSlot:
    """A concurrency slot to hold for the request's lifetime."""

    key: str
    limit: int
    scope: Scope


@dataclass(frozen=True, slots=True)
class AdmissionPlan:
    """Everything one admission checks; see :func:`build_plan`."""

    team: str
    model: str
    tokens: int
    checks: tuple[PlannedCheck, ...]
    slots: tuple[PlannedSlot, ...]

    @property
    def rate_checks(self) -> tuple[RateCheck, ...]:
        return tuple(p.check for p in self.checks)

    @property
    def has_org_checks(self) -> bool:
        return any(p.is_org for p in self.checks) or any(
            s.scope in ("org", "org_model") for s in self.slots
        )

    @property
    def too_large(self) -> PlannedCheck | None:
        """A check the request can never pass (cost above the limit), if any."""
        return next((p for p in self.checks if p.check.cost > p.check.limit), None)

    @property
    def is_empty(self) -> bool:
        return not self.checks and not self.slots


def _scope_checks(
    limits: Limits, scope: Scope, tokens: int, key_of: dict[Metric, str], audio_seconds: int = 0
) -> list[PlannedCheck]:
    out: list[PlannedCheck] = []
    values = (limits.rpm, limits.rpd, limits.tpm, limits.tpd, limits.ash, limits.asd)
    for metric, limit in zip(METRICS, values, strict=True):
        if limit is None:
            continue
        if metric in ("ash", "asd"):
            cost = audio_seconds
        else:
            cost = tokens if metric in ("tpm", "tpd") else 1
        if cost <= 0:
            continue
        out.append(
            PlannedCheck(RateCheck(key_of[metric], limit, PERIOD_S[metric], cost), scope, metric)
        )
    return out


def build_plan(
    settings: Settings, team: str, model: str, tokens: int, audio_seconds: int = 0
) -> AdmissionPlan:
    """The checks (team, team's model, org, org's model, in that order) and slots of a request.

    ``tokens`` is the prompt bound plus the max completion tokens, which is what
    Groq itself counts against TPM at admission. ``audio_seconds`` (audio
    requests) is charged against ASH/ASD; zero skips those checks.
    """
    checks: list[PlannedCheck] = []
    slots: list[PlannedSlot] = []
    team_cfg = settings.teams.get(team)
    scopes: list[tuple[Limits, Scope, str | None, bool]] = []
    if team_cfg is not None:
        scopes.append((team_cfg.limits, "team", None, False))
        model_limits = team_cfg.model_limits.get(model)
        if model_limits is not None:
            scopes.append((model_limits, "team_model", model, False))
    scopes.append((settings.org.limits, "org", None, True))
    org_model_limits = settings.org.model_limits.get(model)
    if org_model_limits is not None:
        scopes.append((org_model_limits, "org_model", model, True))
    for limits, scope, scope_model, is_org in scopes:
        if is_org:
            keys = {m: org_key(m, scope_model) for m in METRICS}
            slot_key = org_key("concurrency", scope_model)
        else:
            keys = {m: team_key(team, m, scope_model) for m in METRICS}
            slot_key = team_key(team, "concurrency", scope_model)
        checks.extend(_scope_checks(limits, scope, tokens, keys, audio_seconds))
        if limits.concurrency is not None:
            slots.append(PlannedSlot(slot_key, limits.concurrency, scope))
    return AdmissionPlan(team, model, tokens, tuple(checks), tuple(slots))


def describe_scope(scope: Scope, team: str, model: str) -> str:
    """The subject of a 429 message, e.g. ``team `chatbot```.

    >>> describe_scope("org_model", "chatbot", "m")
    "team `chatbot` (the organization's shared limit for model `m`)"
    """
    if scope == "team":
        return f"team `{team}`"
    if scope == "team_model":
        return f"model `{model}` in team `{team}`"
    if scope == "org":
        return f"team `{team}` (the organization's shared limit)"
    return f"team `{team}` (the organization's shared limit for model `{model}`)"


class PlanCache:
    """:func:`build_plan`, memoised per (team, model) for one :class:`Settings`.

    Only the token checks' cost differs between two requests of a team and
    model, so the plan is built once and reused with that cost swapped in. The
    result equals ``build_plan(settings, team, model, tokens)``; a different
    ``settings`` object (a reload) starts afresh.

    >>> from teamgate.config.schema import Limits, Settings, TeamConfig
    >>> team = TeamConfig("chatbot", ("m",), 4096, limits=Limits(rpm=60, tpm=10000))
    >>> settings = Settings(teams={"chatbot": team})
    >>> cache = PlanCache()
    >>> cache.plan(settings, "chatbot", "m", 2000) == build_plan(settings, "chatbot", "m", 2000)
    True
    """

    __slots__ = ("_settings", "_templates")

    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._templates: dict[tuple[str, str], AdmissionPlan] = {}

    def plan(self, settings: Settings, team: str, model: str, tokens: int) -> AdmissionPlan:
        if settings is not self._settings:
            self._settings = settings
            self._templates = {}
        template = self._templates.get((team, model))
        if template is None:
            if len(self._templates) >= self.MAX_ENTRIES:
                self._templates.clear()
            template = self._templates[(team, model)] = build_plan(settings, team, model, 1)
        if tokens == 1:
            return template
        checks = tuple(
            PlannedCheck(
                RateCheck(p.check.key, p.check.limit, p.check.period, tokens), p.scope, p.metric
            )
            if p.is_tokens
            else p
            for p in template.checks
            if tokens > 0 or not p.is_tokens
        )
        return AdmissionPlan(team, model, tokens, checks, template.slots)
