"""The summary ``teamgate check`` prints: one row per team, then the org and the wiring.

Secrets never appear: upstream keys show their reference (``env:NAME``), URLs
lose any password, the webhook URL shows only whether it is set.

>>> from teamgate.config.loader import example_config_path, load_settings
>>> text = render_summary(load_settings(example_config_path(), env={}))
>>> "chatbot" in text and "$200.00" in text
True
"""

from __future__ import annotations

from decimal import Decimal

from teamgate.config.schema import Limits, Settings, TeamConfig
from teamgate.config.sections import redact_url
from teamgate.pricing.money import format_usd_amount
from teamgate.text.table import render_table


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def _percent(fraction: Decimal) -> str:
    return f"{(fraction * 100).normalize():f}%"


def _environments(team: TeamConfig) -> str:
    parts = []
    for name, env in team.environments.items():
        n = len(env.upstream_keys)
        parts.append(f"{name} ({n} key{'' if n == 1 else 's'})")
    return ", ".join(parts)


def _limits_text(limits: Limits) -> str:
    if limits.is_empty:
        return "none"
    names = ("rpm", "tpm", "rpd", "tpd", "concurrency", "ash", "asd")
    values = (
        limits.rpm,
        limits.tpm,
        limits.rpd,
        limits.tpd,
        limits.concurrency,
        limits.ash,
        limits.asd,
    )
    return ", ".join(f"{n} {v}" for n, v in zip(names, values, strict=True) if v is not None)


def render_summary(settings: Settings) -> str:
    """The multi-line summary of a validated configuration (no trailing newline)."""
    teams = settings.teams.values()
    n_envs = sum(len(t.environments) for t in teams)
    n_keys = sum(len(e.upstream_keys) for t in teams for e in t.environments.values())
    source = settings.source or "(no file)"
    lines = [
        f"teamgate config OK: {source}: {len(settings.teams)} teams, "
        f"{n_envs} environments, {n_keys} upstream keys",
        "",
    ]
    team_rows = [
        [
            t.name,
            _environments(t),
            ", ".join(t.allowed_models),
            str(t.max_tokens_per_request),
            format_usd_amount(t.monthly_budget_usd),
            _count(t.limits.rpm),
            _count(t.limits.tpm),
            _count(t.limits.concurrency),
            t.on_limit,
        ]
        for t in teams
    ]
    headers = ["team", "environments", "models allowed", "max tokens/request", "budget/month"]
    lines += render_table([*headers, "rpm", "tpm", "concurrency", "on_limit"], team_rows)
    org = settings.org
    alerts = settings.alerts
    lines += [
        "",
        f"org: budget {format_usd_amount(org.monthly_budget_usd)}/month; limits "
        f"{_limits_text(org.limits)}; months in {org.timezone}"
        f"{'; fair share between teams' if org.fair_share else ''}",
        f"alerts: at {', '.join(_percent(t) for t in alerts.thresholds) or 'none'}; "
        f"webhook {'set' if alerts.webhook_url else 'not set'}",
    ]
    if settings.aliases:
        aliases = ", ".join(f"{a} -> {m}" for a, m in settings.aliases.items())
        lines.append(f"aliases: {aliases}")
    if settings.pricing or settings.pricing_default:
        overridden = ", ".join(settings.pricing) or "none"
        fallback = "set" if settings.pricing_default else "not set"
        lines.append(f"pricing: overrides for {overridden}; pricing.default {fallback}")
    lines += [
        f"storage: {redact_url(settings.storage.url)}",
        f"upstream: {redact_url(settings.upstream.base_url)} "
        f"(timeout {settings.upstream.timeout_s:g}s)",
    ]
    if settings.redis.url:
        lines.append(
            f"redis: {redact_url(settings.redis.url)} (fail {settings.redis.failure_mode})"
        )
    key_rows = [
        [t.name, env.name, env.project, key.name, key.secret, key.state]
        for t in teams
        for env in t.environments.values()
        for key in env.upstream_keys
    ]
    lines += ["", "upstream keys:"]
    lines += render_table(
        ["team", "environment", "groq project", "key", "secret", "state"], key_rows
    )
    return "\n".join(lines)
