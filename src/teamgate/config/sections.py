"""Readers for the config's self-contained sections and for ``limits`` mappings.

Each reader takes the :class:`~teamgate.config.fields.Problems` being
collected, the section's path and its raw value, and returns the frozen
settings object (defaults stand in for fields with problems).

>>> from teamgate.config.fields import Problems
>>> limits = read_limits(Problems(), "org.limits", {"rpm": 60, "ash": 7200})
>>> limits.rpm, limits.tpm, limits.ash, limits.max_queue_wait_s
(60, None, 7200, 30.0)
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from teamgate.config.fields import (
    Check,
    Invalid,
    Problems,
    Section,
    as_list,
    as_mapping,
    boolean,
    checks,
    child,
    choice,
    env_var_name,
    fraction,
    http_url,
    item,
    non_negative_int,
    non_negative_number,
    optional,
    port_number,
    positive_int,
    positive_number,
    secret_http_url,
    shown,
    string,
)
from teamgate.config.schema import (
    AdminSettings,
    AlertSettings,
    AudioSettings,
    BatchSettings,
    EmailSettings,
    Limits,
    LoggingSettings,
    MetricsSettings,
    RedisSettings,
    SecretSettings,
    ServerSettings,
    StorageSettings,
    TracingSettings,
    UpstreamSettings,
)
from teamgate.config.secret_refs import check_secret_reference
from teamgate.http.trusted_proxies import parse_network

STORAGE_PREFIXES = ("sqlite:///", "sqlite://:memory:", "postgresql://", "postgres://")
LIMIT_FIELDS = ("rpm", "tpm", "rpd", "tpd", "concurrency", "ash", "asd")


SERVER_FIELDS: dict[str, Check[Any]] = {
    "host": string,
    "port": port_number,
    "max_body_bytes": positive_int,
    "grace_period_s": non_negative_number,
    "drain_delay_s": non_negative_number,
    "admin_host": optional(string),
    "admin_port": optional(port_number),
    "auth_failure_limit": non_negative_int,
    "auth_failure_delay_s": non_negative_number,
    "auth_failure_concurrency": positive_int,
}
# server.trusted_proxies is read item by item (each bad address names its index);
# this Check gives the JSON Schema its shape.
TRUSTED_PROXIES = Check(tuple, {"type": "array", "items": {"type": "string"}})


def read_server(problems: Problems, value: object) -> ServerSettings:
    s = Section(problems, "server", value, known=(*SERVER_FIELDS, "trusted_proxies"))
    server = ServerSettings(
        **s.read(SERVER_FIELDS, ServerSettings()),
        trusted_proxies=_trusted_proxies(
            problems, s.at("trusted_proxies"), s.raw("trusted_proxies")
        ),
    )
    same_host = server.admin_host in (None, server.host)
    if same_host and server.admin_port and server.admin_port == server.port:
        problems.add(
            s.at("admin_port"),
            f"must differ from server.port ({server.port}) on the same host; "
            "leave it out to serve the admin API on the proxy's port",
        )
    return server


def _trusted_proxies(problems: Problems, path: str, value: object) -> tuple[str, ...]:
    """A list of addresses or CIDR ranges (``10.0.0.0/8``); ``[]``/absent: trust no proxy."""
    found = []
    for index, raw in enumerate(as_list(problems, path, value)):
        try:
            if not isinstance(raw, str):
                raise ValueError(raw)
            parse_network(raw)
        except ValueError:
            problems.add(
                item(path, index), f"must be an IP address or CIDR range, got {shown(raw)}"
            )
            continue
        found.append(raw.strip())
    return tuple(found)


METRICS_FIELDS: dict[str, Check[Any]] = {
    "token_env": optional(env_var_name),
    "open_on_admin_port": boolean,
}


def read_metrics(problems: Problems, value: object, server: ServerSettings) -> MetricsSettings:
    """``metrics: {token_env, open_on_admin_port}``; open needs ``server.admin_port``."""
    s = Section(problems, "metrics", value, known=tuple(METRICS_FIELDS))
    metrics = MetricsSettings(**s.read(METRICS_FIELDS, MetricsSettings()))
    if metrics.open_on_admin_port and server.admin_port is None:
        problems.add(
            s.at("open_on_admin_port"),
            "needs server.admin_port: /metrics is served without a credential only on "
            "the admin listener",
        )
    return metrics


@checks({"allOf": [http_url.json_schema, {"not": {"pattern": "/openai/v1/?$"}}]})
def _base_url(value: Any) -> str:
    url = http_url(value)
    if url.endswith("/openai/v1"):
        raise Invalid(f"must be the API root without /openai/v1, got {shown(value)}")
    return url


UPSTREAM_FIELDS: dict[str, Check[Any]] = {
    "base_url": _base_url,
    "timeout_s": positive_number,
    "connect_timeout_s": positive_number,
    "max_connections": positive_int,
    "retry_429_deadline_s": non_negative_number,
    "key_selection": choice("first", "round_robin"),
    "failed_key_backoff_s": non_negative_number,
}


def read_upstream(problems: Problems, value: object) -> UpstreamSettings:
    s = Section(problems, "upstream", value, known=tuple(UPSTREAM_FIELDS))
    return UpstreamSettings(**s.read(UPSTREAM_FIELDS, UpstreamSettings()))


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and summaries)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not at:
        return url
    user, colon, _password = userinfo.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}{slash}{path}"


@checks({"type": "string", "pattern": "^(sqlite:///.|sqlite://:memory:|postgres(ql)?://)"})
def _storage_url(value: Any) -> str:
    if isinstance(value, str) and value.startswith(STORAGE_PREFIXES):
        if value == "sqlite:///":
            raise Invalid("needs a file path after sqlite:///, e.g. sqlite:///teamgate.db")
        return value
    got = shown(redact_url(value)) if isinstance(value, str) else shown(value)
    raise Invalid(f"must start with {', '.join(STORAGE_PREFIXES)}, got {got}")


STORAGE_FIELDS: dict[str, Check[Any]] = {
    "url": _storage_url,
    "flush_interval_ms": positive_int,
    "max_pending_records": positive_int,
}


def read_storage(problems: Problems, value: object) -> StorageSettings:
    s = Section(problems, "storage", value, known=tuple(STORAGE_FIELDS))
    return StorageSettings(**s.read(STORAGE_FIELDS, StorageSettings()))


@checks({"type": "string", "pattern": "^rediss?://"})
def _redis_url(value: Any) -> str:
    if isinstance(value, str) and value.startswith(("redis://", "rediss://")):
        return value
    got = shown(redact_url(value)) if isinstance(value, str) else shown(value)
    raise Invalid(f"must be a redis:// or rediss:// URL or null, got {got}")


REDIS_FIELDS: dict[str, Check[Any]] = {
    "url": optional(_redis_url),
    "failure_mode": choice("closed", "open"),
    "instances": positive_int,
    "key_prefix": string,
    "lease_s": positive_number,
}


def read_redis(problems: Problems, value: object) -> RedisSettings:
    s = Section(problems, "redis", value, known=tuple(REDIS_FIELDS))
    return RedisSettings(**s.read(REDIS_FIELDS, RedisSettings()))


ADMIN_FIELDS: dict[str, Check[Any]] = {"key_env": env_var_name}


def read_admin(problems: Problems, value: object) -> AdminSettings:
    s = Section(problems, "admin", value, known=tuple(ADMIN_FIELDS))
    return AdminSettings(**s.read(ADMIN_FIELDS, AdminSettings()))


def read_thresholds(problems: Problems, path: str, value: object) -> tuple[Decimal, ...]:
    """A strictly increasing list of fractions in (0, 1]; ``[]`` means no alerts."""
    found: list[Decimal] = []
    for index, raw in enumerate(as_list(problems, path, value)):
        try:
            threshold = fraction(raw)
        except Invalid as problem:
            problems.add(item(path, index), str(problem))
            continue
        if found and threshold <= found[-1]:
            problems.add(
                item(path, index),
                f"must be greater than the threshold before it ({found[-1]}), got {shown(raw)}",
            )
            continue
        found.append(threshold)
    return tuple(found)


ALERTS_FIELDS = ("thresholds", "webhook_url", "forecast_margin_days", "email")
WEBHOOK_URL = optional(secret_http_url)
FORECAST_MARGIN = non_negative_int


@checks({"type": "string", "pattern": r"^[^@\s]+@[^@\s]+$"})
def email_address(value: Any) -> str:
    """``name@host`` (the SMTP server has the last word)."""
    if isinstance(value, str) and value.count("@") == 1 and " " not in value.strip():
        local, _, host = value.strip().partition("@")
        if local and host:
            return value.strip()
    raise Invalid(f"must be an email address like ops@example.com, got {shown(value)}")


ADDRESSES = Check(tuple, {"type": "array", "items": email_address.json_schema})
EMAIL_FIELDS: dict[str, Check[Any]] = {
    "host": string,
    "port": port_number,
    "tls": choice("starttls", "tls", "none"),
    "from": email_address,
    "username": optional(string),
    "password": optional(check_secret_reference),
    "to": ADDRESSES,
    "contacts": Check(
        dict, {"type": ["object", "null"], "additionalProperties": ADDRESSES.json_schema}
    ),
    "timeout_s": positive_number,
}


def _addresses(problems: Problems, path: str, value: object) -> tuple[str, ...]:
    found = []
    for index, raw in enumerate(as_list(problems, path, value)):
        try:
            found.append(email_address(raw))
        except Invalid as problem:
            problems.add(item(path, index), str(problem))
    return tuple(found)


def read_email(problems: Problems, path: str, value: object) -> EmailSettings | None:
    """``alerts.email``: the SMTP server and who gets which alert; null: no email."""
    if value is None:
        return None
    s = Section(problems, path, value, known=tuple(EMAIL_FIELDS))
    host = s.require("host", string, "")
    sender = s.require("from", email_address, "")
    contacts = {
        str(team): _addresses(problems, child(s.at("contacts"), team), listed)
        for team, listed in as_mapping(problems, s.at("contacts"), s.raw("contacts")).items()
    }
    d = EmailSettings(host="", from_address="")
    return EmailSettings(
        host=host,
        from_address=sender,
        port=s.get("port", port_number, d.port),
        tls=s.get("tls", EMAIL_FIELDS["tls"], d.tls),
        username=s.get("username", optional(string), None),
        password=s.get("password", optional(check_secret_reference), None),
        to=_addresses(problems, s.at("to"), s.raw("to")),
        contacts=contacts,
        timeout_s=s.get("timeout_s", positive_number, d.timeout_s),
    )


def read_alerts(problems: Problems, value: object) -> AlertSettings:
    d = AlertSettings()
    s = Section(problems, "alerts", value, known=ALERTS_FIELDS)
    thresholds = d.thresholds  # absent or null: the defaults; []: no alerts
    if s.raw("thresholds") is not None:
        thresholds = read_thresholds(problems, s.at("thresholds"), s.raw("thresholds"))
    return AlertSettings(
        thresholds=thresholds,
        webhook_url=s.get("webhook_url", WEBHOOK_URL, d.webhook_url),
        forecast_margin_days=s.get("forecast_margin_days", FORECAST_MARGIN, d.forecast_margin_days),
        email=read_email(problems, s.at("email"), s.raw("email")),
    )


SECRETS_FIELDS: dict[str, Check[Any]] = {"refresh_interval_s": positive_number}


def read_secrets(problems: Problems, value: object) -> SecretSettings:
    s = Section(problems, "secrets", value, known=tuple(SECRETS_FIELDS))
    return SecretSettings(**s.read(SECRETS_FIELDS, SecretSettings()))


LIMITS_FIELDS: dict[str, Check[Any]] = {
    **{name: optional(positive_int) for name in LIMIT_FIELDS},
    "max_queue_wait_s": non_negative_number,
}


def read_limits(problems: Problems, path: str, value: object) -> Limits:
    """``{rpm, tpm, rpd, tpd, concurrency, ash, asd}`` positive integers or null,
    ``max_queue_wait_s``. ``ash``/``asd``: audio seconds per hour/day."""
    s = Section(problems, path, value, known=tuple(LIMITS_FIELDS))
    return Limits(**s.read(LIMITS_FIELDS, Limits()))


AUDIO_FIELDS: dict[str, Check[Any]] = {
    "max_unreadable_duration_s": optional(positive_number),
    "max_file_bytes": positive_int,
}
BATCHES_FIELDS: dict[str, Check[Any]] = {"poll_interval_s": positive_number}


def read_audio(problems: Problems, value: object) -> AudioSettings:
    """``audio: {max_unreadable_duration_s: null | seconds > 0, max_file_bytes}``."""
    s = Section(problems, "audio", value, known=tuple(AUDIO_FIELDS))
    return AudioSettings(**s.read(AUDIO_FIELDS, AudioSettings()))


def read_batches(problems: Problems, value: object) -> BatchSettings:
    """``batches: {poll_interval_s: seconds > 0}``."""
    s = Section(problems, "batches", value, known=tuple(BATCHES_FIELDS))
    return BatchSettings(**s.read(BATCHES_FIELDS, BatchSettings()))


LOGGING_FIELDS: dict[str, Check[Any]] = {
    "format": choice("text", "json"),
    "level": choice("debug", "info", "warning", "error"),
    "access_log": boolean,
    "fault_repeat_s": positive_number,
}
TRACING_FIELDS: dict[str, Check[Any]] = {
    "otlp_endpoint": optional(http_url),
    "service_name": string,
}


def read_logging(problems: Problems, value: object) -> LoggingSettings:
    """``logging: {format: text | json, level, access_log, fault_repeat_s}``."""
    s = Section(problems, "logging", value, known=tuple(LOGGING_FIELDS))
    return LoggingSettings(**s.read(LOGGING_FIELDS, LoggingSettings()))


def read_tracing(problems: Problems, value: object) -> TracingSettings:
    """``tracing: {otlp_endpoint: null | http(s) URL, service_name}``."""
    s = Section(problems, "tracing", value, known=tuple(TRACING_FIELDS))
    return TracingSettings(**s.read(TRACING_FIELDS, TracingSettings()))
