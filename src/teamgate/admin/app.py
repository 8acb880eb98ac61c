"""``create_admin_app(gateway)``: the admin API, the dashboard and ``/metrics`` as one ASGI app.

Served on its own listener when ``server.admin_port`` is set (``teamgate serve``
runs it beside the proxy in the same event loop), otherwise mounted by the
proxy app for the paths ``/admin/``, ``/dashboard`` and ``/metrics``.
It shares the proxy's :class:`~teamgate.runtime.Gateway`; it never opens or
closes it (its lifespan only acknowledges).

>>> # admin = create_admin_app(app.gateway)
>>> # uvicorn.Server(uvicorn.Config(admin, port=9091, lifespan="off"))
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

import orjson

from teamgate.admin.access import Principal
from teamgate.admin.audit_trail import record_dashboard, record_operation
from teamgate.admin.auth import AdminAuth, AdminKeyInvalid
from teamgate.admin.context import AdminRequest
from teamgate.admin.metrics_access import MetricsAccess
from teamgate.admin.openapi import openapi_document
from teamgate.admin.routes import match_route
from teamgate.auth.keys import credential_role
from teamgate.dashboard.api import answer as dashboard_answer
from teamgate.dashboard.pages import Login, serve_dashboard
from teamgate.dashboard.sessions import SESSION_COOKIE, Sessions, cookies
from teamgate.dashboard.sso_routes import SingleSignOn
from teamgate.http.asgi import (
    JSON,
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    header,
    read_body,
    send_bytes,
)
from teamgate.http.asgi import send_error as send_gateway_error
from teamgate.http.errors import (
    GatewayError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PermissionDenied,
)
from teamgate.observability.metrics import CONTENT_TYPE, render_metrics
from teamgate.runtime import Gateway
from teamgate.secrets import SecretResolver

log = logging.getLogger("teamgate.admin")

ADMIN_PREFIXES = ("/admin/", "/dashboard", "/metrics")
DASHBOARD_API = "/dashboard/api/"
CSRF_HEADER = b"x-csrf-token"
MAX_ADMIN_BODY = 1024 * 1024


def handles(path: str) -> bool:
    """True for the paths the admin app answers."""
    return path == "/admin" or path.startswith(ADMIN_PREFIXES)


class AdminApp:
    """The admin ASGI app. Build with :func:`create_admin_app`."""

    def __init__(self, gateway: Gateway, *, own_listener: bool = False) -> None:
        self.gateway = gateway
        key_env = gateway.settings.admin.key_env
        self._admin_key = gateway.env.get(key_env) or ""
        self.auth = AdminAuth(self._admin_key or None, key_env)
        self.sessions = Sessions(
            lambda: gateway.store,
            lambda: gateway.settings.teams,
            ttl_s=lambda: gateway.settings.dashboard.session_ttl_s,
        )
        resolver = SecretResolver(gateway.env)
        self.sso = SingleSignOn(
            lambda: gateway.settings.dashboard.oidc,
            lambda: gateway.settings.teams,
            resolver.resolve_async,
        )
        self.login = Login(
            self.auth,
            self.sessions,
            self.sign_in,
            self._audit_dashboard,
            sso_name=self.sso.name,
            sso=self.sso.serve,
        )
        metrics = gateway.settings.metrics
        self.metrics_access = MetricsAccess(
            token=gateway.env.get(metrics.token_env) if metrics.token_env else None,
            open_here=own_listener and metrics.open_on_admin_port,
            token_env=metrics.token_env,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"]
                await send({"type": kind + ".complete"})
                if kind == "lifespan.shutdown":
                    return
        if scope["type"] != "http":
            return
        try:  # its own listener: through the same authentication gate as the proxy's
            await self.gateway.auth_gate.serve(scope, receive, send, self.dispatch)
        except GatewayError as exc:
            await send_gateway_error(send, exc)
        except ClientDisconnected:
            return

    async def dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        if not handles(path):
            raise NotFound(f"Unknown request URL: {method} {path} (this is the admin listener)")
        if path == "/metrics":
            if method != "GET":
                raise MethodNotAllowed(f"Method {method} is not allowed for {path}.")
            who = await self.sessions.principal(cookies(scope).get(SESSION_COOKIE))
            session_ok = who is not None and who.can("metrics.read", None)
            self.metrics_access.require(scope, self.auth, session_ok=session_ok)
            text = render_metrics(self.gateway.metrics, self.gateway)
            await send_bytes(send, 200, text.encode(), [(b"content-type", CONTENT_TYPE.encode())])
            return
        if path.startswith(DASHBOARD_API):
            await self.dashboard_api(path.removeprefix(DASHBOARD_API), scope, send)
            return
        if path.startswith("/dashboard"):
            await serve_dashboard(path, scope, receive, send, self.login)
            return
        who = await self.principal(scope, session_ok=method == "GET" or self._csrf_ok(scope))
        if path == "/admin/openapi.json":
            if method != "GET":
                raise MethodNotAllowed(f"Method {method} is not allowed for {path}.")
            teams = {
                t: list(c.environments)
                for t, c in self.gateway.settings.teams.items()
                if t in who.visible_teams
            }
            await send_bytes(send, 200, orjson.dumps(openapi_document(teams=teams)), [JSON])
            return
        route, params = match_route(method, path)
        if route is None:
            if params:
                raise MethodNotAllowed(f"Method {method} is not allowed for {path}.")
            raise NotFound(f"Unknown admin route: {method} {path}")
        assert isinstance(params, dict)
        allowed = who.may(route.action) if route.team_scoped else who.can(route.action, None)
        if not allowed:  # the handler of a team-scoped route checks each team it touches
            raise PermissionDenied(
                f"`{who.name}` ({who.role_name}) may not call {route.operation_id} "
                f"(needs `{route.action}`)."
            )
        raw = await read_body(scope, receive, MAX_ADMIN_BODY)
        body = _json_body(raw) if route.body is not None else {}
        query = {
            k: v[-1]
            for k, v in parse_qs(
                scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True
            ).items()
        }
        settings_before = self.gateway.settings
        request = AdminRequest(self.gateway, params, query, body, who)
        reply = await route.handler(request)
        if route.method != "GET":  # every state-changing operation leaves one audit row
            await record_operation(
                self.gateway,
                scope,
                self._admin_key,
                route.operation_id,
                params,
                reply.body,
                settings_before,
                who,
            )
        await send_bytes(send, reply.status, orjson.dumps(reply.body), [JSON])

    def _csrf_ok(self, scope: Scope) -> bool:
        """A dashboard action: the session's CSRF token in ``x-csrf-token`` (a header a
        cross-site form cannot send, and a value a cross-site page cannot read)."""
        presented = header(scope, CSRF_HEADER)
        session = cookies(scope).get(SESSION_COOKIE)
        return presented is not None and self.sessions.check_csrf(
            session, presented.decode("latin-1")
        )

    async def principal(self, scope: Scope, *, session_ok: bool = True) -> Principal:
        """Who is asking: the one place that recognises a caller, else 401 (through the
        authentication gate). The admin key is the org admin; a ``tga_`` credential is a
        team admin or viewer of its team; a dashboard session (``session_ok``: for reads,
        and for the dashboard's actions when they carry the session's CSRF token, so a
        forged cross-site form can never change anything) is whoever signed in."""
        self.auth.require_enabled()
        if session_ok:
            who = await self.sessions.principal(cookies(scope).get(SESSION_COOKIE))
            if who is not None:
                return who
        for name in (b"authorization", b"x-admin-key"):
            presented = header(scope, name)
            if presented:
                found = self.sign_in(presented.decode("latin-1"))
                if found is not None:
                    return found
        raise AdminKeyInvalid(
            "Invalid admin key. Send it (or a team admin's `tga_` credential) as "
            "`Authorization: Bearer <key>` or `x-admin-key`."
        )

    def sign_in(self, presented: str) -> Principal | None:
        """The principal of an admin key or ``tga_`` credential, else None."""
        teams = list(self.gateway.settings.teams)
        if self.auth.matches(presented.encode("latin-1", "replace")):
            return Principal.org_admin(teams)
        key = self.gateway.keys.credential(presented)
        if key is None:
            return None
        if credential_role(key) == "viewer":
            return Principal.viewer(key.name, [key.team], all_teams=teams)
        return Principal.team_admin(key.name, [key.team], all_teams=teams)

    async def dashboard_api(self, name: str, scope: Scope, send: Send) -> None:
        """``GET /dashboard/api/NAME``: the one access check, then the endpoint."""
        if scope["method"] != "GET":
            raise MethodNotAllowed(f"Method {scope['method']} is not allowed for {scope['path']}.")
        who = await self.principal(scope)
        query = {
            k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()
        }
        result = await dashboard_answer(self.gateway, who, name, query)
        if result.csv is not None:
            headers = [
                (b"content-type", b"text/csv; charset=utf-8"),
                (b"content-disposition", f'attachment; filename="{result.filename}"'.encode()),
                (b"cache-control", b"no-store"),
            ]
            await send_bytes(send, 200, result.csv.encode(), headers)
            return
        await send_bytes(send, 200, orjson.dumps(result.body), [JSON])

    async def _audit_dashboard(
        self, scope: Scope, action: str, session: str, who: Principal
    ) -> None:
        """Sign-in and sign-out: one audit row each, naming who (never the session id)."""
        await record_dashboard(self.gateway, scope, self._admin_key, action, session, who)


def _json_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest("the body is not valid JSON", code="invalid_json") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object", code="invalid_json")
    return body


def create_admin_app(gateway: Gateway, *, own_listener: bool = False) -> AdminApp:
    """The admin API, dashboard and metrics over ``gateway`` (opened elsewhere).

    ``own_listener``: served on ``server.admin_port`` rather than mounted on the proxy's.
    """
    return AdminApp(gateway, own_listener=own_listener)
