"""One dashboard session as the store keeps it: never the session id itself, only its hash.

A browser holds a random session id in an HttpOnly cookie; the store holds
``sha256(id)`` (:func:`session_hash`), who signed in (name, role, teams, how),
when the session was made and when it ends. Signing out revokes it
(``revoked_at``); an expired or revoked session admits nobody, on any instance.

>>> s = DashboardSession(session_hash("tok"), "ana@example.com", "team-admin", ("chatbot",),
...                      False, "oidc", created_at=10.0, expires_at=20.0)
>>> s.live(15.0), s.live(20.0), len(s.id_hash)
(True, False, 64)
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass


def session_hash(token: str) -> str:
    """The stored form of a session id: its SHA-256, hex (the id is 256 random bits)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class DashboardSession:
    id_hash: str
    name: str  # who: "admin", a tga_ credential's name, or the single sign-on user
    role: str  # org-admin | team-admin | viewer
    teams: tuple[str, ...]  # the teams granted (an org-wide principal: every team)
    org: bool  # acts on the organization as a whole (the admin, an org-wide viewer)
    via: str  # admin-key | credential | oidc
    created_at: float
    expires_at: float
    revoked_at: float | None = None

    def live(self, now: float) -> bool:
        return self.revoked_at is None and now < self.expires_at


SESSION_COLUMNS = tuple(f.name for f in dataclasses.fields(DashboardSession))
