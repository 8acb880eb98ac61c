"""Optional dependencies: which extra installs what, and one clear line when one is missing.

teamgate installed without extras serves on SQLite with in-memory counters.
PostgreSQL, Redis, the cloud secret managers, tracing and single sign-on each need
an extra;
a config that asks for one that is not installed fails with one line naming
the setting and the ``pip install`` that fixes it (never a traceback):

>>> str(MissingExtra("storage.url", "postgresql://…", "postgres"))
"storage.url is postgresql://… but asyncpg is not installed: pip install 'teamgate[postgres]'"

Modules that need an extra are imported only where it is used, so the import
of ``teamgate`` itself never needs one. :func:`check_settings` runs when a
config is loaded (every command), :func:`import_for` where the import happens.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType
from typing import TYPE_CHECKING

from teamgate.config.errors import ConfigError

if TYPE_CHECKING:
    from teamgate.config.schema import Settings

# extra -> (the module it provides, the distribution to name in the message)
EXTRAS: dict[str, tuple[str, str]] = {
    "postgres": ("asyncpg", "asyncpg"),
    "redis": ("redis", "redis"),
    "aws": ("boto3", "boto3"),
    "gcp": ("google.cloud.secretmanager", "google-cloud-secret-manager"),
    "otel": ("opentelemetry.sdk", "opentelemetry-sdk"),
    "email": ("aiosmtplib", "aiosmtplib"),
    "oidc": ("jwt", "pyjwt"),
}


class MissingExtra(ConfigError):
    """A setting needs an extra that is not installed. ``str()`` is the whole line."""

    def __init__(self, setting: str, shown_value: str, extra: str) -> None:
        distribution = EXTRAS[extra][1]
        line = (
            f"{setting} is {shown_value} but {distribution} is not installed: "
            f"pip install 'teamgate[{extra}]'"
        )
        super().__init__("", line)
        self.path = setting
        self.extra = extra


def installed(extra: str) -> bool:
    """Whether ``extra``'s module can be imported (without importing it)."""
    module = EXTRAS[extra][0]
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(extra: str, setting: str, shown_value: str) -> None:
    """Raise :class:`MissingExtra` unless ``extra`` is installed."""
    if not installed(extra):
        raise MissingExtra(setting, shown_value, extra)


def import_for(module: str, extra: str, setting: str, shown_value: str) -> ModuleType:
    """Import ``module`` (a teamgate module needing ``extra``), or raise :class:`MissingExtra`."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        needed = EXTRAS[extra][0].partition(".")[0]
        if error.name is not None and error.name.partition(".")[0] == needed:
            raise MissingExtra(setting, shown_value, extra) from None
        raise


def scheme_of(url: str) -> str:
    """``postgresql://…``: a URL shown by its scheme only (it may hold a password)."""
    return url.partition("://")[0] + "://…"


def is_postgres_url(url: str) -> bool:
    scheme = url.partition("://")[0].lower()
    return scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+")


def check_settings(settings: Settings) -> None:
    """Every extra ``settings`` needs is installed, else :class:`MissingExtra`."""
    if is_postgres_url(settings.storage.url):
        require("postgres", "storage.url", scheme_of(settings.storage.url))
    if settings.redis.url:
        require("redis", "redis.url", scheme_of(settings.redis.url))
    if settings.tracing.otlp_endpoint:
        require("otel", "tracing.otlp_endpoint", "set")
    if settings.alerts.email is not None:
        require("email", "alerts.email", "set")
    if settings.dashboard.oidc is not None:
        require("oidc", "dashboard.oidc", "set")
