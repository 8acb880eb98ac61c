"""Who may read ``/metrics``: it names every team, its spend and its Groq keys' states.

Locked by default. A scrape is let through when it carries

- the admin key (``Authorization: Bearer`` or ``x-admin-key``), or a dashboard session;
- the read-only metrics token: ``Authorization: Bearer <token>``, the token read from
  the variable named by ``metrics.token_env`` (what Prometheus' ``bearer_token_file``
  sends). It opens ``/metrics`` and nothing else;

or when the operator chose ``metrics.open_on_admin_port: true`` and the request came to
the admin listener (``server.admin_port``), which the network keeps private. Anything
else is 401 (and counts as a failed authentication at the gate).

>>> access = MetricsAccess(token="m" * 40)
>>> access.token_matches(b"Bearer " + b"m" * 40), access.token_matches(b"Bearer nope")
(True, False)
"""

from __future__ import annotations

import hmac

from teamgate.admin.auth import AdminAuth, AdminKeyInvalid
from teamgate.http.asgi import Scope, header


class MetricsAccess:
    """The credentials that open ``/metrics`` on one listener."""

    def __init__(
        self, *, token: str | None = None, open_here: bool = False, token_env: str | None = None
    ) -> None:
        self._token = token.encode() if token else None
        self.open_here = open_here
        self.token_env = token_env

    def token_matches(self, presented: bytes | None) -> bool:
        if self._token is None or not presented or presented[:7].lower() != b"bearer ":
            return False
        return hmac.compare_digest(presented[7:].strip(), self._token)

    def require(self, scope: Scope, admin: AdminAuth, *, session_ok: bool) -> None:
        """Raise 401 unless the request may read the metrics."""
        if self.open_here or session_ok:
            return
        authorization = header(scope, b"authorization")
        if self.token_matches(authorization) or admin.matches(authorization):
            return
        if admin.matches(header(scope, b"x-admin-key")):
            return
        via = "the admin key"
        if self.token_env:
            via += f" or the metrics token (${self.token_env})"
        raise AdminKeyInvalid(
            f"/metrics needs a credential: send {via} as `Authorization: Bearer <key>`.",
        )
