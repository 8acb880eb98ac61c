"""The typed, frozen shape of teamgate's configuration.

:func:`teamgate.config.loader.load_settings` builds a :class:`Settings` from YAML
plus ``TEAMGATE_*`` environment overrides; everything downstream reads only
these objects. Money is :class:`~decimal.Decimal` dollars here (exact, as the
operator wrote it); the pricing and budget code turn it into integer
picodollars.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

OnLimit = Literal["queue", "reject"]
KeyState = Literal["active", "draining", "retired"]
FailureMode = Literal["closed", "open"]
KeySelection = Literal["first", "round_robin"]
LogFormat = Literal["text", "json"]
LogLevel = Literal["debug", "info", "warning", "error"]

DEFAULT_THRESHOLDS: tuple[Decimal, ...] = (Decimal("0.5"), Decimal("0.8"), Decimal("0.95"))


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 10 * 1024 * 1024
    grace_period_s: float = 30.0
    drain_delay_s: float = 0.0  # on SIGTERM: /readyz 503 and keep serving this long first
    admin_host: str | None = None  # None: the admin API shares the proxy's address
    admin_port: int | None = None
    # Failed authentications per minute from one client address before each further
    # 401 to that address is delayed by auth_failure_delay_s (0 disables the slowing).
    auth_failure_limit: int = 10
    auth_failure_delay_s: float = 1.0
    # Delayed failures per address answered at once; the others wait behind them.
    auth_failure_concurrency: int = 2
    # Addresses / CIDR ranges of reverse proxies whose X-Forwarded-For/-Proto are believed.
    trusted_proxies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UpstreamSettings:
    base_url: str = "https://api.groq.com"
    timeout_s: float = 60.0
    connect_timeout_s: float = 5.0
    max_connections: int = 256
    retry_429_deadline_s: float = 10.0  # wait out Groq's retry-after when it fits in this
    key_selection: KeySelection = "first"
    failed_key_backoff_s: float = 60.0


@dataclass(frozen=True, slots=True)
class StorageSettings:
    url: str = "sqlite:///teamgate.db"
    flush_interval_ms: int = 100
    # While the store refuses writes (disk full, ...), records wait in memory; once this
    # many are pending, chat requests are refused with 503 until the store recovers.
    max_pending_records: int = 100_000


@dataclass(frozen=True, slots=True)
class RedisSettings:
    url: str | None = None
    failure_mode: FailureMode = "closed"
    instances: int = 1  # N for fail-open limits at 1/N
    key_prefix: str = "teamgate:"  # every Redis key teamgate writes starts with it
    lease_s: float = 30.0  # a dead instance's slots and reservations are freed after this


@dataclass(frozen=True, slots=True)
class AdminSettings:
    key_env: str = "TEAMGATE_ADMIN_KEY"


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    """Who may read ``/metrics``: the admin key, a read-only token, or (opt-in) anyone
    who can reach ``server.admin_port``."""

    token_env: str | None = None  # the variable holding a read-only bearer token
    open_on_admin_port: bool = False


EmailTls = Literal["starttls", "tls", "none"]


@dataclass(frozen=True, slots=True)
class EmailSettings:
    """Alert emails through an SMTP server (``alerts.email``; needs the ``email`` extra)."""

    host: str
    from_address: str  # YAML: ``from``
    port: int = 587
    tls: EmailTls = "starttls"  # STARTTLS on a plain port; ``tls``: implicit TLS (465)
    username: str | None = None
    password: str | None = None  # a secret reference (env:NAME, file:/path, ...)
    to: tuple[str, ...] = ()  # every alert
    contacts: dict[str, tuple[str, ...]] = field(default_factory=dict)  # team -> its alerts
    timeout_s: float = 30.0


@dataclass(frozen=True, slots=True)
class OidcSettings:
    """Single sign-on for the dashboard through an OpenID Connect provider.

    ``roles`` maps a value of the ``claim`` (e.g. a group) to a role: ``admin``,
    ``viewer``, ``viewer:TEAM`` or ``team-admin:TEAM``."""

    issuer: str
    client_id: str
    redirect_url: str  # https://gateway.example.com/dashboard/oidc/callback
    roles: dict[str, str]
    client_secret: str | None = None  # a secret reference; None: a public client (PKCE only)
    provider_name: str = "single sign-on"  # the button says "Sign in with <provider_name>"
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    claim: str = "groups"
    username_claim: str = "email"  # the name shown and audited (``sub`` when absent)


@dataclass(frozen=True, slots=True)
class DashboardSettings:
    session_ttl_s: float = 12 * 3600.0  # a dashboard session ends this long after sign-in
    oidc: OidcSettings | None = None


@dataclass(frozen=True, slots=True)
class AlertSettings:
    thresholds: tuple[Decimal, ...] = DEFAULT_THRESHOLDS
    webhook_url: str | None = None
    # A budget_forecast alert is sent again only when the projected date moves earlier by
    # more than this many days.
    forecast_margin_days: int = 2
    email: EmailSettings | None = None


@dataclass(frozen=True, slots=True)
class SecretSettings:
    refresh_interval_s: float = 60.0


@dataclass(frozen=True, slots=True)
class Limits:
    """Rate limits of one scope (a team, a team's model, the org, the org's model).

    ``None`` means unlimited.
    """

    rpm: int | None = None
    tpm: int | None = None
    rpd: int | None = None
    tpd: int | None = None
    concurrency: int | None = None
    max_queue_wait_s: float = 30.0
    ash: int | None = None  # audio seconds per hour (Groq's ASH)
    asd: int | None = None  # audio seconds per day (Groq's ASD)

    @property
    def is_empty(self) -> bool:
        return all(
            v is None
            for v in (self.rpm, self.tpm, self.rpd, self.tpd, self.concurrency, self.ash, self.asd)
        )


@dataclass(frozen=True, slots=True)
class AudioSettings:
    """Audio endpoints. ``max_unreadable_duration_s``: None refuses a file whose
    duration cannot be read (400); a number prices such a file at that length."""

    max_unreadable_duration_s: float | None = None
    max_file_bytes: int = 100 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class BatchSettings:
    """The Batch API. ``poll_interval_s``: how often open batches are polled at Groq
    (and settled when finished) without a client asking; also once at start-up."""

    poll_interval_s: float = 60.0


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    """``format``: ``text`` lines or ``json`` (one object per line). ``access_log``: one
    line per request. ``fault_repeat_s``: an outage (store, Redis) is logged once, then
    at most this often while it lasts, then once more when it is over."""

    format: LogFormat = "text"
    level: LogLevel = "info"
    access_log: bool = False
    fault_repeat_s: float = 30.0


@dataclass(frozen=True, slots=True)
class TracingSettings:
    """OpenTelemetry traces (the ``otel`` extra); off while ``otlp_endpoint`` is null."""

    otlp_endpoint: str | None = None  # OTLP/HTTP, e.g. http://collector:4318/v1/traces
    service_name: str = "teamgate"


@dataclass(frozen=True, slots=True)
class Price:
    """USD per 1M tokens (input, output), and the day the figure was last checked."""

    input: Decimal
    output: Decimal
    checked: date | None = None


@dataclass(frozen=True, slots=True)
class UpstreamKeyConfig:
    """One Groq key of a project. ``secret`` is a reference (``env:NAME``, ``file:/p``, …)."""

    name: str
    secret: str
    state: KeyState = "active"


@dataclass(frozen=True, slots=True)
class EnvironmentConfig:
    """One environment of a team, which is one Groq Project with its keys."""

    name: str
    upstream_keys: tuple[UpstreamKeyConfig, ...]
    project: str = ""  # the Groq Project's name, for the operator's runbook; defaults to team-env
    monthly_budget_usd: Decimal | None = None  # a sub-budget inside the team's


@dataclass(frozen=True, slots=True)
class TeamConfig:
    name: str
    allowed_models: tuple[str, ...]
    max_tokens_per_request: int
    monthly_budget_usd: Decimal | None = None
    limits: Limits = field(default_factory=Limits)
    model_limits: dict[str, Limits] = field(default_factory=dict)
    on_limit: OnLimit = "queue"
    environments: dict[str, EnvironmentConfig] = field(default_factory=dict)
    alert_thresholds: tuple[Decimal, ...] | None = None  # None: alerts.thresholds


@dataclass(frozen=True, slots=True)
class OrgConfig:
    monthly_budget_usd: Decimal | None = None
    limits: Limits = field(default_factory=Limits)
    model_limits: dict[str, Limits] = field(default_factory=dict)
    fair_share: bool = False
    timezone: str = "UTC"  # budget months are calendar months in this zone
    alert_thresholds: tuple[Decimal, ...] | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    """The whole configuration. Build with ``load_settings``; never mutate."""

    teams: dict[str, TeamConfig]
    upstream: UpstreamSettings = field(default_factory=UpstreamSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    admin: AdminSettings = field(default_factory=AdminSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    secrets: SecretSettings = field(default_factory=SecretSettings)
    org: OrgConfig = field(default_factory=OrgConfig)
    pricing: dict[str, Price] = field(default_factory=dict)  # overrides of the built-in table
    pricing_default: Price | None = None  # an explicit fallback; absent: unpriced models are errors
    aliases: dict[str, str] = field(default_factory=dict)
    audio: AudioSettings = field(default_factory=AudioSettings)
    batches: BatchSettings = field(default_factory=BatchSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    tracing: TracingSettings = field(default_factory=TracingSettings)
    source: str = ""  # the file it came from, for messages
