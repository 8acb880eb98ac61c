"""The admin key: read from the environment variable named by ``admin.key_env``.

Requests present it as ``Authorization: Bearer <key>`` or ``x-admin-key: <key>``;
it is compared in constant time (:func:`hmac.compare_digest`). With no admin
key configured the admin API is disabled and every admin route answers 403
saying so. The dashboard's session cookie also admits ``GET`` requests, and the
dashboard's actions only with the session's CSRF token in ``x-csrf-token``, so a forged
cross-site form can never change anything.

>>> auth = AdminAuth("s3cret-admin-key-0123456789")
>>> auth.matches(b"Bearer s3cret-admin-key-0123456789"), auth.matches(b"Bearer nope")
(True, False)
"""

from __future__ import annotations

import hmac

from teamgate.http.asgi import Scope, header
from teamgate.http.errors import GatewayError, PermissionDenied


class AdminKeyInvalid(GatewayError):
    """401: the admin key is missing or wrong."""

    status = 401
    type = "invalid_request_error"
    code = "invalid_admin_key"


class AdminDisabled(PermissionDenied):
    """403: no admin key is configured, so the admin API is off."""

    code = "admin_api_disabled"


class AdminAuth:
    """Checks a request's admin key. ``key`` None: the admin API is disabled."""

    def __init__(self, key: str | None, key_env: str = "TEAMGATE_ADMIN_KEY") -> None:
        self._key = key.encode() if key else None
        self.key_env = key_env

    @property
    def enabled(self) -> bool:
        return self._key is not None

    def matches(self, presented: bytes | None) -> bool:
        if self._key is None or not presented:
            return False
        value = presented
        if value[:7].lower() == b"bearer ":
            value = value[7:].strip()
        return hmac.compare_digest(value, self._key)

    def require_enabled(self) -> None:
        if self._key is None:
            raise AdminDisabled(
                f"The admin API is disabled: no admin key is configured. Set the "
                f"environment variable {self.key_env} (named by admin.key_env) and restart."
            )

    def require(self, scope: Scope, *, session_ok: bool = False) -> None:
        """Raise unless the request carries the admin key (or ``session_ok``)."""
        self.require_enabled()
        if session_ok:
            return
        if self.matches(header(scope, b"x-admin-key")) or self.matches(
            header(scope, b"authorization")
        ):
            return
        raise AdminKeyInvalid(
            "Invalid admin key. Send it as `Authorization: Bearer <key>` or `x-admin-key`."
        )
