"""Configuration: the frozen schema and its loader."""

from teamgate.config.schema import (
    EnvironmentConfig,
    Limits,
    OrgConfig,
    Price,
    Settings,
    TeamConfig,
    UpstreamKeyConfig,
)

__all__ = [
    "EnvironmentConfig",
    "Limits",
    "OrgConfig",
    "Price",
    "Settings",
    "TeamConfig",
    "UpstreamKeyConfig",
]
