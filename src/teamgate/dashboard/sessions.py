"""Dashboard sessions: random tokens in memory, each with its own CSRF token and expiry.

>>> s = Sessions(clock=lambda: 0.0)
>>> token = s.create(Principal.org_admin(["chatbot"]))
>>> s.valid(token), s.valid("forged"), len(s.csrf(token) or ""), s.principal(token).role
(True, False, 43, 'org-admin')
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from http.cookies import SimpleCookie

from teamgate.admin.access import Principal
from teamgate.http.asgi import Scope, header

SESSION_COOKIE = "tg_session"
LOGIN_CSRF_COOKIE = "tg_login_csrf"
SESSION_TTL_S = 12 * 3600


class Sessions:
    """Logged-in dashboard sessions of one admin app (lost on restart: log in again)."""

    def __init__(self, *, ttl_s: float = SESSION_TTL_S, clock: Callable[[], float] = time.time):
        self._ttl = ttl_s
        self._clock = clock
        # token -> (expires, csrf, who signed in)
        self._by_token: dict[str, tuple[float, str, Principal]] = {}

    def create(self, principal: Principal) -> str:
        now = self._clock()
        self._by_token = {t: v for t, v in self._by_token.items() if v[0] > now}
        token = secrets.token_urlsafe(32)
        self._by_token[token] = (now + self._ttl, secrets.token_urlsafe(32), principal)
        return token

    def principal(self, token: str | None) -> Principal | None:
        """Who signed in with this session, None if it is not a live session."""
        if not token:
            return None
        entry = self._by_token.get(token)
        return entry[2] if entry is not None and entry[0] > self._clock() else None

    def valid(self, token: str | None) -> bool:
        if not token:
            return False
        entry = self._by_token.get(token)
        return entry is not None and entry[0] > self._clock()

    def csrf(self, token: str) -> str | None:
        entry = self._by_token.get(token)
        return entry[1] if entry else None

    def check_csrf(self, token: str | None, presented: str) -> bool:
        expected = self.csrf(token) if token else None
        return expected is not None and hmac.compare_digest(expected, presented)

    def end(self, token: str | None) -> None:
        if token:
            self._by_token.pop(token, None)


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


def set_cookie(name: str, value: str, scope: Scope, *, max_age: int | None = None) -> str:
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if is_https(scope):
        parts.append("Secure")
    return "; ".join(parts)
