"""What an admin handler gets (:class:`AdminRequest`) and the errors it may raise."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from teamgate.admin.access import Principal
from teamgate.http.errors import GatewayError, InvalidRequest
from teamgate.runtime import Gateway


class Conflict(GatewayError):
    """409: the resource exists already (e.g. a live key of that name)."""

    status = 409
    type = "invalid_request_error"
    code = "conflict"


@dataclass
class AdminRequest:
    """One admin API call: the gateway, path parameters, query and JSON body, and who asks
    (a handler checks ``principal.can``/``require`` before it reads or changes a team's)."""

    gw: Gateway
    path_params: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)
    principal: Principal | None = None

    @property
    def who(self) -> Principal:
        """The principal; the org admin when the caller set none (the admin key)."""
        return self.principal or Principal.org_admin(self.gw.settings.teams)

    def text(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, default)

    def field_str(self, name: str, *, required: bool = True) -> str | None:
        value = self.body.get(name)
        if value is None:
            if required:
                raise InvalidRequest(f"`{name}` is required", code="missing_field")
            return None
        if not isinstance(value, str) or not value:
            raise InvalidRequest(f"`{name}` must be a non-empty string", code="invalid_field")
        return value


@dataclass(frozen=True)
class Reply:
    """A handler's answer: status and a JSON-ready body."""

    status: int
    body: Any
