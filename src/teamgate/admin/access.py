"""Who may see and do what: the one access check of the dashboard and the admin API.

Every dashboard API handler (and every admin route that is given one) asks a
:class:`Principal` before it reads or changes anything, and filters what it
returns through :attr:`Principal.visible_teams`. Today there is one kind of
principal, the org admin (the admin key, or a dashboard session opened with
it), who may do everything. The shape is the one later roles need:

- ``team-admin`` of some teams: reads and manages keys of those teams only;
- ``viewer``: reads the teams it is given, changes nothing.

A new role is a new constructor here; handlers do not change, because they
only ever ask ``principal.can(action, team)`` and read ``visible_teams``.

>>> admin = Principal.org_admin(["chatbot", "research"])
>>> admin.can("read", None), admin.can("pause", "chatbot"), admin.visible_teams
(True, True, ('chatbot', 'research'))
>>> lead = Principal.team_admin("ana", ["chatbot"], all_teams=["chatbot", "research"])
>>> lead.can("read", "chatbot"), lead.can("read", "research"), lead.can("read", None)
(True, False, False)
>>> lead.can("manage_keys", "chatbot"), lead.can("reload", None)
(True, False)
>>> Principal.viewer("v", ["research"], all_teams=["chatbot", "research"]).can("pause", "research")
False
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from teamgate.errors import PermissionDenied

Action = Literal["read", "manage_keys", "pause", "reload", "rotate_upstream"]
"""What a principal may be allowed: read figures, manage team keys, pause a scope
(the operator-controls issue), reload the config, rotate Groq keys."""

Role = Literal["org-admin", "team-admin", "viewer"]

_TEAM_ADMIN_ACTIONS: frozenset[Action] = frozenset({"read", "manage_keys", "pause"})


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in party. ``teams``: the teams it may act on (in config order)."""

    name: str
    role: Role
    teams: tuple[str, ...]

    @classmethod
    def org_admin(cls, all_teams: Iterable[str]) -> Principal:
        """The admin key's holder: every action, every team, the org scope."""
        return cls("admin", "org-admin", tuple(all_teams))

    @classmethod
    def team_admin(cls, name: str, teams: Iterable[str], *, all_teams: Iterable[str]) -> Principal:
        """A team's admin: reads and manages its own teams' keys and pauses, nothing org-wide."""
        known = set(all_teams)
        return cls(name, "team-admin", tuple(t for t in teams if t in known))

    @classmethod
    def viewer(cls, name: str, teams: Iterable[str], *, all_teams: Iterable[str]) -> Principal:
        """Reads the given teams' figures; changes nothing."""
        known = set(all_teams)
        return cls(name, "viewer", tuple(t for t in teams if t in known))

    @property
    def visible_teams(self) -> tuple[str, ...]:
        """The teams whose figures this principal may see (filter every answer by these)."""
        return self.teams

    def can(self, action: Action, team: str | None) -> bool:
        """Whether this principal may do ``action`` on ``team`` (None: the whole org)."""
        if self.role == "org-admin":
            return team is None or team in self.teams
        if team is None or team not in self.teams:
            return False
        if self.role == "viewer":
            return action == "read"
        return action in _TEAM_ADMIN_ACTIONS

    def require(self, action: Action, team: str | None) -> None:
        """:meth:`can`, or 403 ``permission_denied`` naming what was refused."""
        if not self.can(action, team):
            what = "the organization" if team is None else f"team `{team}`"
            raise PermissionDenied(f"`{self.name}` may not {action.replace('_', ' ')} {what}.")
