"""Who may see and do what: the one role check of the admin API, the CLI's admin client
and the dashboard.

Every admin route declares the action it needs (``Route.action``) and every
dashboard API handler asks a :class:`Principal` before it reads or changes
anything, filtering what it returns through :attr:`Principal.visible_teams`.
Actions are plain strings (``"keys.create"``, ``"usage.read"``, ``"keys.pause"``);
handlers only ever ask ``principal.can(action, team)`` (``team`` None: the whole
organization). Three roles:

- ``admin``: every action on every team and on the organization (the admin key,
  or a dashboard session opened with it or mapped from single sign-on);
- ``team-admin`` of some teams: reads those teams' figures and creates, rotates,
  revokes and pauses their keys; never another team's, never budgets, limits,
  prices, upstream keys, the config or the audit trail;
- ``viewer``: reads (any action ending in ``.read``), per team or org-wide.

>>> admin = Principal.org_admin(["chatbot", "research"])
>>> admin.can("read", None), admin.can("pause", "chatbot"), admin.visible_teams
(True, True, ('chatbot', 'research'))
>>> lead = Principal.team_admin("ana", ["chatbot"], all_teams=["chatbot", "research"])
>>> lead.can("read", "chatbot"), lead.can("read", "research"), lead.can("read", None)
(True, False, False)
>>> lead.can("keys.create", "chatbot"), lead.can("config.reload", None), lead.may("keys.rotate")
(True, False, True)
>>> Principal.viewer("v", ["research"], all_teams=["chatbot", "research"]).can("pause", "research")
False
>>> Principal.viewer("v", None, all_teams=["chatbot"]).can("usage.read", None)
True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from teamgate.http.errors import PermissionDenied

Action = str
"""What a principal may be allowed, as ``area.verb`` (``keys.create``, ``usage.read``).
The early names ``read``, ``manage_keys``, ``pause``, ``reload`` and ``rotate_upstream``
keep working."""

Role = Literal["org-admin", "team-admin", "viewer"]
ROLE_NAMES: dict[Role, str] = {"org-admin": "admin", "team-admin": "team-admin", "viewer": "viewer"}

TEAM_ADMIN_ACTIONS: frozenset[str] = frozenset(
    {
        "read",
        "manage_keys",
        "pause",
        "dashboard.read",
        "usage.read",
        "budget.read",
        "keys.read",
        "keys.create",
        "keys.revoke",
        "keys.rotate",
        "keys.pause",
        "keys.resume",
        "pauses.read",
    }
)
"""Everything a team admin may do on its own teams (and nothing on the organization)."""


def is_read(action: Action) -> bool:
    """A read-only action: ``read`` or ``something.read``."""
    return action == "read" or action.endswith(".read")


def roles_for(action: Action, *, team_scoped: bool) -> list[str]:
    """The roles that may call an operation needing ``action`` (for the OpenAPI document).

    >>> roles_for("keys.create", team_scoped=True), roles_for("config.reload", team_scoped=False)
    (['admin', 'team-admin'], ['admin'])
    """
    roles = ["admin"]
    if team_scoped and action in TEAM_ADMIN_ACTIONS:
        roles.append("team-admin")
    if is_read(action) and team_scoped:
        roles.append("viewer")
    elif is_read(action) and action not in _ADMIN_ONLY_READS:
        roles.append("viewer (org-wide)")
    return roles


_ADMIN_ONLY_READS = frozenset({"audit.read", "upstream.read"})
"""Reads only the admin has: the audit trail and upstream (Groq) key status."""


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in party. ``teams``: the teams it may act on (in config order);
    ``org``: it may act on the organization as a whole (the admin, an org-wide viewer)."""

    name: str
    role: Role
    teams: tuple[str, ...]
    org: bool = False
    sso: bool = False  # signed in to the dashboard through single sign-on (audited as sso:NAME)

    @classmethod
    def org_admin(cls, all_teams: Iterable[str], name: str = "admin") -> Principal:
        """The admin key's holder: every action, every team, the org scope."""
        return cls(name, "org-admin", tuple(all_teams), org=True)

    @classmethod
    def team_admin(cls, name: str, teams: Iterable[str], *, all_teams: Iterable[str]) -> Principal:
        """A team's admin: reads and manages its own teams' keys and pauses, nothing org-wide."""
        wanted = set(teams)
        return cls(name, "team-admin", tuple(t for t in all_teams if t in wanted))

    @classmethod
    def viewer(
        cls, name: str, teams: Iterable[str] | None, *, all_teams: Iterable[str]
    ) -> Principal:
        """Reads the given teams' figures (``teams`` None: every team and the org)."""
        if teams is None:
            return cls(name, "viewer", tuple(all_teams), org=True)
        wanted = set(teams)
        return cls(name, "viewer", tuple(t for t in all_teams if t in wanted))

    def signed_in_with_sso(self) -> Principal:
        """This principal, marked as a single sign-on user (its name is the user's)."""
        return Principal(self.name, self.role, self.teams, self.org, sso=True)

    @property
    def role_name(self) -> str:
        """``admin``, ``team-admin`` or ``viewer``."""
        return ROLE_NAMES[self.role]

    @property
    def visible_teams(self) -> tuple[str, ...]:
        """The teams whose figures this principal may see (filter every answer by these)."""
        return self.teams

    def can(self, action: Action, team: str | None) -> bool:
        """Whether this principal may do ``action`` on ``team`` (None: the whole org)."""
        if self.role == "org-admin":
            return team is None or team in self.teams
        if team is None:
            return (
                self.org
                and self.role == "viewer"
                and is_read(action)
                and action not in _ADMIN_ONLY_READS
            )
        if team not in self.teams:
            return False
        if self.role == "viewer":
            return is_read(action) and action not in _ADMIN_ONLY_READS
        return action in TEAM_ADMIN_ACTIONS

    def may(self, action: Action) -> bool:
        """Whether ``action`` is allowed on the org or on at least one team."""
        return self.can(action, None) or any(self.can(action, t) for t in self.teams)

    def require(self, action: Action, team: str | None) -> None:
        """:meth:`can`, or 403 ``permission_denied`` naming what was refused."""
        if not self.can(action, team):
            what = "the organization" if team is None else f"team `{team}`"
            raise PermissionDenied(f"`{self.name}` may not {action.replace('_', ' ')} {what}.")
