"""Reading ``dashboard``: session length and single sign-on (``dashboard.oidc``).

>>> from teamgate.config.fields import Problems
>>> problems = Problems()
>>> d = read_dashboard(problems, {"oidc": {
...     "issuer": "https://login.example.com", "client_id": "teamgate",
...     "client_secret": "env:OIDC_SECRET",
...     "redirect_url": "https://gw.example.com/dashboard/oidc/callback",
...     "roles": {"platform": "admin", "leads": "team-admin:chatbot"}}}, ["chatbot"])
>>> d.oidc.roles, d.oidc.scopes, len(problems)
({'platform': 'admin', 'leads': 'team-admin:chatbot'}, ('openid', 'email', 'profile'), 0)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from teamgate.config.fields import (
    HTTP_URL_PATTERN,
    NOT_BLANK,
    Check,
    Invalid,
    Problems,
    Section,
    as_mapping,
    checks,
    child,
    optional,
    positive_number,
    shown,
    string,
)
from teamgate.config.schema import DashboardSettings, OidcSettings
from teamgate.config.secret_refs import check_secret_reference

CALLBACK_PATH = "/dashboard/oidc/callback"
LOOPBACK = ("localhost", "127.0.0.1", "::1")
ROLE_PATTERN = r"^(admin|viewer|viewer:\S+|team-admin:\S+)$"
_ROLE = re.compile(ROLE_PATTERN)


@checks(
    {"type": "string", "pattern": "^(https://|http://(localhost|127\\.0\\.0\\.1|\\[::1\\])[:/])"}
)
def issuer_url(value: Any) -> str:
    """The issuer exactly as the provider spells it (a trailing ``/`` is kept: the ID
    token's ``iss`` must match it); ``https://`` except on this machine."""
    if isinstance(value, str):
        parts = urlsplit(value)
        if parts.hostname and (
            parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)
        ):
            return value
    raise Invalid(f"must be an https:// URL (http:// only for localhost), got {shown(value)}")


@checks({"type": "string", "pattern": HTTP_URL_PATTERN + ".*/dashboard/oidc/callback$"})
def redirect_url(value: Any) -> str:
    """Where the provider sends the browser back: this gateway's ``/dashboard/oidc/callback``
    as the browser reaches it (registered with the provider as the redirect URI)."""
    if isinstance(value, str):
        parts = urlsplit(value)
        if (
            parts.scheme in ("http", "https")
            and parts.hostname
            and parts.path.endswith(CALLBACK_PATH)
            and not parts.query
        ):
            return value
    raise Invalid(
        f"must be an http(s) URL ending in {CALLBACK_PATH} (as the browser reaches this "
        f"gateway), got {shown(value)}"
    )


@checks(
    {
        "type": "array",
        "items": {"type": "string", "pattern": r"^\S+$"},
        "contains": {"const": "openid"},
        "uniqueItems": True,
    }
)
def scope_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, list) and all(isinstance(v, str) and v.split() == [v] for v in value):
        if "openid" not in value:
            raise Invalid(f"must include openid, got {shown(value)}")
        return tuple(dict.fromkeys(value))
    raise Invalid(f"must be a list of scope names such as [openid, email], got {shown(value)}")


ROLE_MAP = Check(
    dict,
    {
        "type": "object",
        "minProperties": 1,
        "propertyNames": {"pattern": NOT_BLANK},
        "additionalProperties": {"type": "string", "pattern": ROLE_PATTERN},
    },
)
OIDC_FIELDS: dict[str, Check[Any]] = {
    "issuer": issuer_url,
    "client_id": string,
    "client_secret": optional(check_secret_reference),
    "redirect_url": redirect_url,
    "provider_name": string,
    "scopes": scope_list,
    "claim": string,
    "username_claim": string,
    "roles": ROLE_MAP,
}
OIDC_REQUIRED = ("issuer", "client_id", "redirect_url", "roles")
DASHBOARD_FIELDS: dict[str, Check[Any]] = {"session_ttl_s": positive_number}


def read_roles(
    problems: Problems, path: str, value: object, teams: Sequence[str]
) -> dict[str, str]:
    """``{claim value: role}``; each role ``admin``, ``viewer``, ``viewer:TEAM`` or
    ``team-admin:TEAM`` naming a configured team."""
    found: dict[str, str] = {}
    raw = as_mapping(problems, path, value)
    if not raw and (value is None or isinstance(value, dict)):
        problems.add(path, "must map at least one claim value to a role")
    for key, role in raw.items():
        at = child(path, key)
        if not isinstance(role, str) or not _ROLE.match(role):
            problems.add(
                at,
                f"must be admin, viewer, viewer:TEAM or team-admin:TEAM, got {shown(role)}",
            )
            continue
        team = role.partition(":")[2]
        if team and team not in teams:
            problems.add(at, f"names no team {team!r} (teams: {', '.join(teams)})")
            continue
        found[str(key)] = role
    return found


def read_oidc(problems: Problems, path: str, value: object, teams: Sequence[str]) -> OidcSettings:
    s = Section(problems, path, value, known=tuple(OIDC_FIELDS))
    d = OidcSettings("", "", "", {})
    return OidcSettings(
        issuer=s.require("issuer", issuer_url, d.issuer),
        client_id=s.require("client_id", string, d.client_id),
        redirect_url=s.require("redirect_url", redirect_url, d.redirect_url),
        roles=(
            read_roles(problems, s.at("roles"), s.raw("roles"), teams)
            if s.has("roles")
            else s.require("roles", ROLE_MAP, {})
        ),
        client_secret=s.get("client_secret", OIDC_FIELDS["client_secret"], d.client_secret),
        provider_name=s.get("provider_name", string, d.provider_name),
        scopes=s.get("scopes", scope_list, d.scopes),
        claim=s.get("claim", string, d.claim),
        username_claim=s.get("username_claim", string, d.username_claim),
    )


def read_dashboard(problems: Problems, value: object, teams: Sequence[str]) -> DashboardSettings:
    """``dashboard: {session_ttl_s, oidc}`` (``oidc`` absent or null: no single sign-on)."""
    s = Section(problems, "dashboard", value, known=(*DASHBOARD_FIELDS, "oidc"))
    oidc = s.raw("oidc")
    return DashboardSettings(
        **s.read(DASHBOARD_FIELDS, DashboardSettings()),
        oidc=None if oidc is None else read_oidc(problems, s.at("oidc"), oidc, teams),
    )
