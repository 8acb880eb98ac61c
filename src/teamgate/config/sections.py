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

import dataclasses
from decimal import Decimal
from typing import Any, cast

from teamgate.config.fields import (
    Invalid,
    Problems,
    Section,
    as_list,
    boolean,
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
    FailureMode,
    KeySelection,
    Limits,
    MetricsSettings,
    RedisSettings,
    SecretSettings,
    ServerSettings,
    StorageSettings,
    UpstreamSettings,
)
from teamgate.trusted_proxies import parse_network

STORAGE_PREFIXES = ("sqlite:///", "sqlite://:memory:", "postgresql://", "postgres://")
LIMIT_FIELDS = ("rpm", "tpm", "rpd", "tpd", "concurrency", "ash", "asd")


def read_server(problems: Problems, value: object) -> ServerSettings:
    d = ServerSettings()
    s = Section(problems, "server", value, known=_fields(d))
    server = ServerSettings(
        host=s.get("host", string, d.host),
        port=s.get("port", port_number, d.port),
        max_body_bytes=s.get("max_body_bytes", positive_int, d.max_body_bytes),
        grace_period_s=s.get("grace_period_s", non_negative_number, d.grace_period_s),
        admin_host=s.get("admin_host", optional(string), d.admin_host),
        admin_port=s.get("admin_port", optional(port_number), d.admin_port),
        auth_failure_limit=s.get("auth_failure_limit", non_negative_int, d.auth_failure_limit),
        auth_failure_delay_s=s.get(
            "auth_failure_delay_s", non_negative_number, d.auth_failure_delay_s
        ),
        auth_failure_concurrency=s.get(
            "auth_failure_concurrency", positive_int, d.auth_failure_concurrency
        ),
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


def read_metrics(problems: Problems, value: object, server: ServerSettings) -> MetricsSettings:
    """``metrics: {token_env, open_on_admin_port}``; open needs ``server.admin_port``."""
    d = MetricsSettings()
    s = Section(problems, "metrics", value, known=_fields(d))
    metrics = MetricsSettings(
        token_env=s.get("token_env", optional(env_var_name), d.token_env),
        open_on_admin_port=s.get("open_on_admin_port", boolean, d.open_on_admin_port),
    )
    if metrics.open_on_admin_port and server.admin_port is None:
        problems.add(
            s.at("open_on_admin_port"),
            "needs server.admin_port: /metrics is served without a credential only on "
            "the admin listener",
        )
    return metrics


def _base_url(value: Any) -> str:
    url = http_url(value)
    if url.endswith("/openai/v1"):
        raise Invalid(f"must be the API root without /openai/v1, got {shown(value)}")
    return url


def read_upstream(problems: Problems, value: object) -> UpstreamSettings:
    d = UpstreamSettings()
    s = Section(problems, "upstream", value, known=_fields(d))
    return UpstreamSettings(
        base_url=s.get("base_url", _base_url, d.base_url),
        timeout_s=s.get("timeout_s", positive_number, d.timeout_s),
        connect_timeout_s=s.get("connect_timeout_s", positive_number, d.connect_timeout_s),
        max_connections=s.get("max_connections", positive_int, d.max_connections),
        retry_429_deadline_s=s.get(
            "retry_429_deadline_s", non_negative_number, d.retry_429_deadline_s
        ),
        key_selection=cast(
            KeySelection,
            s.get("key_selection", choice("first", "round_robin"), str(d.key_selection)),
        ),
        failed_key_backoff_s=s.get(
            "failed_key_backoff_s", non_negative_number, d.failed_key_backoff_s
        ),
    )


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


def _storage_url(value: Any) -> str:
    if isinstance(value, str) and value.startswith(STORAGE_PREFIXES):
        if value == "sqlite:///":
            raise Invalid("needs a file path after sqlite:///, e.g. sqlite:///teamgate.db")
        return value
    got = shown(redact_url(value)) if isinstance(value, str) else shown(value)
    raise Invalid(f"must start with {', '.join(STORAGE_PREFIXES)}, got {got}")


def read_storage(problems: Problems, value: object) -> StorageSettings:
    d = StorageSettings()
    s = Section(problems, "storage", value, known=_fields(d))
    return StorageSettings(
        url=s.get("url", _storage_url, d.url),
        flush_interval_ms=s.get("flush_interval_ms", positive_int, d.flush_interval_ms),
        max_pending_records=s.get("max_pending_records", positive_int, d.max_pending_records),
    )


def _redis_url(value: Any) -> str:
    if isinstance(value, str) and value.startswith(("redis://", "rediss://")):
        return value
    got = shown(redact_url(value)) if isinstance(value, str) else shown(value)
    raise Invalid(f"must be a redis:// or rediss:// URL or null, got {got}")


def read_redis(problems: Problems, value: object) -> RedisSettings:
    d = RedisSettings()
    s = Section(problems, "redis", value, known=_fields(d))
    return RedisSettings(
        url=s.get("url", optional(_redis_url), d.url),
        failure_mode=cast(
            FailureMode, s.get("failure_mode", choice("closed", "open"), str(d.failure_mode))
        ),
        instances=s.get("instances", positive_int, d.instances),
        key_prefix=s.get("key_prefix", string, d.key_prefix),
        lease_s=s.get("lease_s", positive_number, d.lease_s),
    )


def read_admin(problems: Problems, value: object) -> AdminSettings:
    d = AdminSettings()
    s = Section(problems, "admin", value, known=_fields(d))
    return AdminSettings(key_env=s.get("key_env", env_var_name, d.key_env))


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


def read_alerts(problems: Problems, value: object) -> AlertSettings:
    d = AlertSettings()
    s = Section(problems, "alerts", value, known=_fields(d))
    thresholds = d.thresholds  # absent or null: the defaults; []: no alerts
    if s.raw("thresholds") is not None:
        thresholds = read_thresholds(problems, s.at("thresholds"), s.raw("thresholds"))
    return AlertSettings(
        thresholds=thresholds,
        webhook_url=s.get("webhook_url", optional(secret_http_url), d.webhook_url),
    )


def read_secrets(problems: Problems, value: object) -> SecretSettings:
    d = SecretSettings()
    s = Section(problems, "secrets", value, known=_fields(d))
    return SecretSettings(
        refresh_interval_s=s.get("refresh_interval_s", positive_number, d.refresh_interval_s)
    )


def read_limits(problems: Problems, path: str, value: object) -> Limits:
    """``{rpm, tpm, rpd, tpd, concurrency, ash, asd}`` positive integers or null,
    ``max_queue_wait_s``. ``ash``/``asd``: audio seconds per hour/day."""
    d = Limits()
    s = Section(problems, path, value, known=(*LIMIT_FIELDS, "max_queue_wait_s"))
    counts = {name: s.get(name, optional(positive_int), None) for name in LIMIT_FIELDS}
    return Limits(
        rpm=counts["rpm"],
        tpm=counts["tpm"],
        rpd=counts["rpd"],
        tpd=counts["tpd"],
        concurrency=counts["concurrency"],
        max_queue_wait_s=s.get("max_queue_wait_s", non_negative_number, d.max_queue_wait_s),
        ash=counts["ash"],
        asd=counts["asd"],
    )


def read_audio(problems: Problems, value: object) -> AudioSettings:
    """``audio: {max_unreadable_duration_s: null | seconds > 0, max_file_bytes}``."""
    d = AudioSettings()
    s = Section(problems, "audio", value, known=_fields(d))
    return AudioSettings(
        max_unreadable_duration_s=s.get(
            "max_unreadable_duration_s", optional(positive_number), d.max_unreadable_duration_s
        ),
        max_file_bytes=s.get("max_file_bytes", positive_int, d.max_file_bytes),
    )


def read_batches(problems: Problems, value: object) -> BatchSettings:
    """``batches: {poll_interval_s: seconds > 0}``."""
    d = BatchSettings()
    s = Section(problems, "batches", value, known=_fields(d))
    return BatchSettings(
        poll_interval_s=s.get("poll_interval_s", positive_number, d.poll_interval_s)
    )


def _fields(instance: Any) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(instance))
