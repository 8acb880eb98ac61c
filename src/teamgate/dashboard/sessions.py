"""Dashboard sessions, kept in the store so every instance (and a restart) shares them.

A session id is 256 random bits in an HttpOnly cookie; the store keeps only its
SHA-256 (:class:`~teamgate.ledger.session_records.DashboardSession`) with who
signed in, the expiry and, after sign-out, the revocation. Every request looks its
session up in the store, so signing out on one instance ends the session on all; a
session opened with a ``tga_`` credential ends when the credential is revoked or expires.
The CSRF token of a session is derived from its id (a keyed hash: it reveals
nothing of the id), so it needs no storage and every instance agrees on it.

>>> csrf_of("tok") == csrf_of("tok") != csrf_of("other"), len(csrf_of("tok"))
(True, 43)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Iterable
from http.cookies import SimpleCookie

from teamgate.admin.access import Principal
from teamgate.http.asgi import Scope, header
from teamgate.ledger.session_records import DashboardSession, session_hash
from teamgate.ledger.store import Store

SESSION_COOKIE = "tg_session"
LOGIN_CSRF_COOKIE = "tg_login_csrf"
SESSION_TTL_S = 12 * 3600


def csrf_of(token: str) -> str:
    """The CSRF token of the session ``token`` (what its forms must post back)."""
    digest = hmac.new(b"teamgate dashboard csrf", token.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def principal_of(session: DashboardSession, all_teams: Iterable[str]) -> Principal:
    """The principal a stored session stands for, against today's teams (a team removed
    from the config since sign-in is no longer visible; an admin sees a new one)."""
    teams = list(all_teams)
    sso = session.via == "oidc"
    if session.role == "org-admin":
        who = Principal.org_admin(teams, session.name)
    elif session.role == "team-admin":
        who = Principal.team_admin(session.name, session.teams, all_teams=teams)
    else:
        who = Principal.viewer(
            session.name, None if session.org else session.teams, all_teams=teams
        )
    return who.signed_in_with_sso() if sso else who


class Sessions:
    """The dashboard's sessions over the gateway's store (``store``: called at use, as the
    gateway opens its store after the admin app is made)."""

    def __init__(
        self,
        store: Callable[[], Store | None],
        teams: Callable[[], Iterable[str]],
        *,
        ttl_s: Callable[[], float] = lambda: SESSION_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store_of = store
        self._teams = teams
        self._ttl_s = ttl_s
        self._clock = clock

    @property
    def ttl_s(self) -> float:
        """How long a new session lasts (``dashboard.session_ttl_s``)."""
        return self._ttl_s()

    def _store(self) -> Store:
        store = self._store_of()
        if store is None:
            raise RuntimeError("the dashboard's sessions need the gateway's store to be open")
        return store

    async def create(self, principal: Principal, via: str) -> str:
        """A new session for ``principal``; its id (for the cookie, never stored)."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        await self._store().add_dashboard_session(
            DashboardSession(
                session_hash(token),
                principal.name,
                principal.role,
                principal.teams,
                principal.org,
                via,
                created_at=now,
                expires_at=now + self.ttl_s,
            )
        )
        return token

    async def principal(self, token: str | None) -> Principal | None:
        """Who signed in with this session, None if it is not a live session."""
        if not token:
            return None
        now = self._clock()
        store = self._store()
        found = await store.dashboard_session(session_hash(token), now)
        if found is None:
            return None
        if found.via == "credential":  # a revoked or expired tga_ credential ends its sessions
            key = await store.get_client_key(found.name)
            if key is None or not key.usable(now):
                return None
        return principal_of(found, self._teams())

    @staticmethod
    def check_csrf(token: str | None, presented: str) -> bool:
        """Whether ``presented`` is the CSRF token of session ``token`` (constant time)."""
        return bool(token) and hmac.compare_digest(csrf_of(token or ""), presented)

    async def end(self, token: str | None) -> DashboardSession | None:
        """Sign out: revoke the session everywhere; the session ended, None if none was live."""
        if not token:
            return None
        return await self._store().revoke_dashboard_session(session_hash(token), self._clock())


def cookies(scope: Scope) -> dict[str, str]:
    raw = header(scope, b"cookie")
    if not raw:
        return {}
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw.decode("latin-1"))
    except Exception:  # a malformed cookie header is as good as none
        return {}
    return {k: m.value for k, m in jar.items()}


def is_https(scope: Scope) -> bool:
    """Behind TLS (directly, or per a trusted proxy's ``x-forwarded-proto``, which the
    auth gate has already applied to the scheme): cookies get ``Secure``."""
    return scope.get("scheme") == "https"


def set_cookie(
    name: str,
    value: str,
    scope: Scope,
    *,
    max_age: int | None = None,
    same_site: str = "Strict",
    path: str = "/",
) -> str:
    """A ``Set-Cookie`` value: HttpOnly, ``SameSite`` (Strict unless a cross-site
    redirect must carry it back, as single sign-on's does), ``Secure`` behind TLS."""
    parts = [f"{name}={value}", f"Path={path}", "HttpOnly", f"SameSite={same_site}"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if is_https(scope):
        parts.append("Secure")
    return "; ".join(parts)
