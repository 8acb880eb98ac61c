"""Validating a raw config mapping into :class:`~teamgate.config.schema.Settings`.

Every problem is collected, each naming its dotted key path; if there is any,
one :class:`~teamgate.config.fields.InvalidConfig` (a
:class:`~teamgate.config.errors.ConfigError`) lists them all.

>>> settings = parse_settings({"teams": {"ops": {
...     "allowed_models": ["llama-3.1-8b-instant"], "max_tokens_per_request": 256,
...     "environments": {"prod": {"upstream_keys": [{"name": "ops-prod-1", "secret": "env:K"}]}},
... }}})
>>> settings.teams["ops"].max_tokens_per_request
256
>>> parse_settings({"teams": {}, "sever": {}})
Traceback (most recent call last):
...
teamgate.config.fields.InvalidConfig: sever: unknown key (did you mean server?)
teams: must define at least one team
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from teamgate.config.dashboard import read_dashboard
from teamgate.config.fields import (
    Invalid,
    Problems,
    Section,
    boolean,
    checks,
    money,
    optional,
    shown,
)
from teamgate.config.models import ModelCatalog, build_catalog, read_model_limits, read_pricing
from teamgate.config.schema import OrgConfig, Settings, TeamConfig
from teamgate.config.sections import (
    read_admin,
    read_alerts,
    read_audio,
    read_batches,
    read_limits,
    read_logging,
    read_metrics,
    read_redis,
    read_secrets,
    read_server,
    read_storage,
    read_thresholds,
    read_tracing,
    read_upstream,
)
from teamgate.config.teams import read_teams

TOP_LEVEL_KEYS = (
    "server",
    "upstream",
    "storage",
    "redis",
    "admin",
    "metrics",
    "dashboard",
    "alerts",
    "secrets",
    "org",
    "pricing",
    "aliases",
    "audio",
    "batches",
    "logging",
    "tracing",
    "teams",
)
ORG_FIELDS = (
    "monthly_budget_usd",
    "limits",
    "models",
    "fair_share",
    "timezone",
    "alert_thresholds",
)


def parse_settings(data: Mapping[str, Any], *, source: str = "") -> Settings:
    """Validate ``data`` (a parsed YAML document) into frozen :class:`Settings`.

    Raises :class:`~teamgate.config.errors.ConfigError` listing every problem found.
    """
    return build_settings(data, source=source)


def build_settings(
    data: object, *, source: str = "", origins: Mapping[str, str] | None = None
) -> Settings:
    """:func:`parse_settings`, where ``origins`` maps key paths to the env var that set them."""
    problems = Problems(origins)
    if not isinstance(data, Mapping):
        problems.add("", f"the config must be a mapping of sections, got {shown(data)}")
        problems.raise_if_any(source)
    top = Section(problems, "", data, known=TOP_LEVEL_KEYS)
    pricing, pricing_default = read_pricing(problems, top.raw("pricing"))
    catalog = build_catalog(problems, pricing, pricing_default, top.raw("aliases"))
    teams = read_teams(problems, top.raw("teams"), catalog)
    server = read_server(problems, top.raw("server"))
    settings = Settings(
        teams=teams,
        upstream=read_upstream(problems, top.raw("upstream")),
        server=server,
        storage=read_storage(problems, top.raw("storage")),
        redis=read_redis(problems, top.raw("redis")),
        admin=read_admin(problems, top.raw("admin")),
        metrics=read_metrics(problems, top.raw("metrics"), server),
        dashboard=read_dashboard(problems, top.raw("dashboard"), list(teams)),
        alerts=read_alerts(problems, top.raw("alerts")),
        secrets=read_secrets(problems, top.raw("secrets")),
        org=_read_org(problems, top.raw("org"), catalog, teams),
        pricing=pricing,
        pricing_default=pricing_default,
        aliases=dict(catalog.aliases),
        audio=read_audio(problems, top.raw("audio")),
        batches=read_batches(problems, top.raw("batches")),
        logging=read_logging(problems, top.raw("logging")),
        tracing=read_tracing(problems, top.raw("tracing")),
        source=source,
    )
    email = settings.alerts.email
    for team in email.contacts if email is not None else ():
        if team not in teams:
            problems.add(f"alerts.email.contacts.{team}", f"unknown team `{team}`")
    problems.raise_if_any(source)
    return settings


@checks({"type": "string", "minLength": 1})
def time_zone(value: Any) -> str:
    if isinstance(value, str) and value:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            pass
        else:
            return value
    raise Invalid(f"must be an IANA time zone such as UTC or Europe/Paris, got {shown(value)}")


def _read_org(
    problems: Problems, value: object, catalog: ModelCatalog, teams: Mapping[str, TeamConfig]
) -> OrgConfig:
    d = OrgConfig()
    s = Section(problems, "org", value, known=ORG_FIELDS)
    used = {catalog.resolve(model) for team in teams.values() for model in team.allowed_models}
    thresholds = None
    if s.raw("alert_thresholds") is not None:
        thresholds = read_thresholds(problems, s.at("alert_thresholds"), s.raw("alert_thresholds"))
    return OrgConfig(
        monthly_budget_usd=s.get("monthly_budget_usd", optional(money), None),
        limits=read_limits(problems, s.at("limits"), s.raw("limits")),
        model_limits=read_model_limits(
            problems, s.at("models"), s.raw("models"), catalog, used, "no team may use this model"
        ),
        fair_share=s.get("fair_share", boolean, d.fair_share),
        timezone=s.get("timezone", time_zone, d.timezone),
        alert_thresholds=thresholds,
    )
