"""The JSON Schema of ``teamgate.yaml``, built from the loader's own definitions.

Every key comes from the tables the readers check unknown keys against
(``SERVER_FIELDS``, ``TEAM_FIELDS``, …) and every value's schema from the
:class:`~teamgate.config.fields.Check` the reader calls, so the schema cannot
drift from the loader. ``teamgate schema`` prints it; the repository publishes
it as ``teamgate.schema.json`` for editors (``# yaml-language-server: $schema=``).

The schema is a first line of defence, not the whole validation: rules that
relate several values (an alias's target is priced, upstream key names are
unique, model limits stay inside the allowlist, thresholds increase, the
admin port differs from the proxy's, a cloud extra is installed, a time zone
exists) are the loader's alone; ``teamgate check`` has the last word.

>>> schema = settings_schema()
>>> schema["required"], schema["properties"]["server"]["properties"]["port"]["maximum"]
(['teams'], 65535)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from teamgate.config.dashboard import DASHBOARD_FIELDS, OIDC_FIELDS, OIDC_REQUIRED
from teamgate.config.fields import (
    NOT_BLANK,
    Check,
    boolean,
    fraction,
    money,
    optional,
    positive_int,
    string,
)
from teamgate.config.models import PRICE_FIELDS, PRICE_REQUIRED
from teamgate.config.secret_refs import check_secret_reference
from teamgate.config.sections import (
    ADMIN_FIELDS,
    ALERTS_FIELDS,
    AUDIO_FIELDS,
    BATCHES_FIELDS,
    EMAIL_FIELDS,
    FORECAST_MARGIN,
    LIMITS_FIELDS,
    LOGGING_FIELDS,
    METRICS_FIELDS,
    REDIS_FIELDS,
    SECRETS_FIELDS,
    SERVER_FIELDS,
    STORAGE_FIELDS,
    TRACING_FIELDS,
    TRUSTED_PROXIES,
    UPSTREAM_FIELDS,
    WEBHOOK_URL,
)
from teamgate.config.teams import (
    ENVIRONMENT_FIELDS,
    KEY_STATE,
    NAME_PATTERN,
    ON_LIMIT,
    TEAM_FIELDS,
    UPSTREAM_KEY_FIELDS,
    key_name,
)
from teamgate.config.validate import ORG_FIELDS, TOP_LEVEL_KEYS, time_zone
from teamgate.pricing.price_list import BUILTIN_PRICES

SECTION = ["object", "null"]  # an empty YAML section (``server:``) is null: the defaults


def _object(
    properties: Mapping[str, Any],
    keys: Sequence[str],
    *,
    required: Sequence[str] = (),
    nullable: bool = True,
) -> dict[str, Any]:
    """An object with exactly ``keys`` (the reader's known keys), each from ``properties``."""
    out: dict[str, Any] = {
        "type": SECTION if nullable else "object",
        "additionalProperties": False,
        "properties": {key: _value(properties[key]) for key in keys},
    }
    if required:
        out["required"] = list(required)
    return out


def _value(value: Check[Any] | Mapping[str, Any]) -> dict[str, Any]:
    return dict(value.json_schema) if isinstance(value, Check) else dict(value)


def _table(fields: Mapping[str, Check[Any]]) -> dict[str, Any]:
    return _object(fields, tuple(fields))


def _map_of(value: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": SECTION, "additionalProperties": value, **extra}


def _thresholds() -> dict[str, Any]:
    listed = {"type": "array", "items": fraction.json_schema, "uniqueItems": True}
    return {"anyOf": [listed, {"type": "null"}]}


def settings_schema() -> dict[str, Any]:
    """The whole schema (JSON Schema draft 2020-12)."""
    limits = _table(LIMITS_FIELDS)
    price = _object(PRICE_FIELDS, tuple(PRICE_FIELDS), required=PRICE_REQUIRED, nullable=False)
    upstream_key = _object(
        {"name": key_name, "secret": check_secret_reference, "state": KEY_STATE},
        UPSTREAM_KEY_FIELDS,
        required=("name", "secret"),
        nullable=False,
    )
    environment = _object(
        {
            "project": string,
            "monthly_budget_usd": optional(money),
            "upstream_keys": {"type": "array", "minItems": 1, "items": upstream_key},
        },
        ENVIRONMENT_FIELDS,
        required=("upstream_keys",),
        nullable=False,
    )
    names = {"pattern": NAME_PATTERN.pattern}
    team = _object(
        {
            "allowed_models": {
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": {"type": "string", "pattern": NOT_BLANK},
            },
            "max_tokens_per_request": positive_int,
            "monthly_budget_usd": optional(money),
            "limits": limits,
            "models": _map_of(limits),
            "on_limit": ON_LIMIT,
            "alert_thresholds": _thresholds(),
            "environments": {
                "type": "object",
                "minProperties": 1,
                "propertyNames": names,
                "additionalProperties": environment,
            },
        },
        TEAM_FIELDS,
        required=("allowed_models", "max_tokens_per_request", "environments"),
        nullable=False,
    )
    sections: dict[str, Any] = {
        "server": _table({**SERVER_FIELDS, "trusted_proxies": TRUSTED_PROXIES}),
        "upstream": _table(UPSTREAM_FIELDS),
        "storage": _table(STORAGE_FIELDS),
        "redis": _table(REDIS_FIELDS),
        "admin": _table(ADMIN_FIELDS),
        "metrics": _table(METRICS_FIELDS),
        "dashboard": _object(
            {
                **DASHBOARD_FIELDS,
                "oidc": _object(OIDC_FIELDS, tuple(OIDC_FIELDS), required=OIDC_REQUIRED),
            },
            (*DASHBOARD_FIELDS, "oidc"),
        ),
        "alerts": _object(
            {
                "thresholds": _thresholds(),
                "webhook_url": WEBHOOK_URL,
                "forecast_margin_days": FORECAST_MARGIN,
                "email": _object(EMAIL_FIELDS, tuple(EMAIL_FIELDS), required=("host", "from")),
            },
            ALERTS_FIELDS,
        ),
        "secrets": _table(SECRETS_FIELDS),
        "org": _object(
            {
                "monthly_budget_usd": optional(money),
                "limits": limits,
                "models": _map_of(limits),
                "fair_share": boolean,
                "timezone": time_zone,
                "alert_thresholds": _thresholds(),
            },
            ORG_FIELDS,
        ),
        "pricing": _map_of(price, propertyNames={"pattern": NOT_BLANK}),
        "aliases": _map_of(
            {"type": "string", "pattern": NOT_BLANK},
            propertyNames={"pattern": NOT_BLANK, "not": {"enum": sorted(BUILTIN_PRICES)}},
        ),
        "audio": _table(AUDIO_FIELDS),
        "batches": _table(BATCHES_FIELDS),
        "logging": _table(LOGGING_FIELDS),
        "tracing": _table(TRACING_FIELDS),
        "teams": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": names,
            "additionalProperties": team,
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "teamgate.yaml",
        "description": "teamgate's configuration; `teamgate check` validates it fully.",
        **_object(sections, TOP_LEVEL_KEYS, required=("teams",), nullable=False),
    }
