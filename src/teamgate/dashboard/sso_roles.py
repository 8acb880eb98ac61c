"""Who a single sign-on user is in teamgate: ``dashboard.oidc.roles`` applied to the claims.

The values of the configured claim (a string or a list, e.g. the user's groups) are
looked up in the role map. The strongest role wins (``admin``, then ``team-admin``,
then ``viewer``); team roles of one kind add up. A user none of whose values is
mapped gets no principal (and no session).

>>> from teamgate.config.schema import OidcSettings
>>> oidc = OidcSettings("https://idp", "tg", "https://gw/dashboard/oidc/callback",
...     {"platform": "admin", "leads": "team-admin:chatbot", "ro": "viewer:research"})
>>> teams = ["chatbot", "research"]
>>> who = principal_from_claims({"sub": "1", "email": "ana@x", "groups": ["leads", "ro"]},
...                             oidc, teams)
>>> who.name, who.role_name, who.teams, who.sso
('ana@x', 'team-admin', ('chatbot',), True)
>>> principal_from_claims({"sub": "2", "groups": "platform"}, oidc, teams).role_name
'admin'
>>> principal_from_claims({"sub": "3", "groups": ["finance"]}, oidc, teams) is None
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from teamgate.admin.access import Principal
from teamgate.config.schema import OidcSettings

MAX_NAME = 200


def user_name(claims: Mapping[str, Any], claim: str) -> str:
    """The user's name for the page and the audit trail: ``claim`` (``email``), else
    ``sub``; printable characters only, at most ``MAX_NAME``."""
    raw = claims.get(claim)
    if not isinstance(raw, str) or not raw.strip():
        raw = str(claims.get("sub", ""))
    return "".join(c for c in raw if c.isprintable() and not c.isspace())[:MAX_NAME] or "?"


def claim_values(claims: Mapping[str, Any], claim: str) -> list[str]:
    raw = claims.get(claim)
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list):
        return [v for v in raw if isinstance(v, str)]
    return []


def principal_from_claims(
    claims: Mapping[str, Any], oidc: OidcSettings, all_teams: Iterable[str]
) -> Principal | None:
    """The principal the ID token's claims map to, None if no role is given."""
    teams = list(all_teams)
    name = user_name(claims, oidc.username_claim)
    roles = {oidc.roles[v] for v in claim_values(claims, oidc.claim) if v in oidc.roles}
    led = [r.partition(":")[2] for r in roles if r.startswith("team-admin:")]
    viewed = [r.partition(":")[2] for r in roles if r.startswith("viewer:")]
    if "admin" in roles:
        who = Principal.org_admin(teams, name)
    elif led:
        who = Principal.team_admin(name, led, all_teams=teams)
    elif "viewer" in roles:
        who = Principal.viewer(name, None, all_teams=teams)
    elif viewed:
        who = Principal.viewer(name, viewed, all_teams=teams)
    else:
        return None
    return who.signed_in_with_sso()
