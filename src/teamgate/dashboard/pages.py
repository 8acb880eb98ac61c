"""The dashboard's pages: the login form, the page shell, its static assets, logout.

Login posts the admin key (compared in constant time) with a CSRF token that
must match the login cookie (double submit); success sets an HttpOnly,
SameSite=Strict session cookie (Secure behind TLS) and redirects to the page.
The page's script reads ``/admin/overview`` with that cookie every 10 s.
No CDN, no build step: everything is served from ``dashboard/static``.
"""

from __future__ import annotations

import html
import secrets
from importlib import resources
from urllib.parse import parse_qs

from teamgate.admin.auth import AdminAuth
from teamgate.asgi import Receive, Scope, Send, read_body, send_bytes
from teamgate.dashboard.sessions import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_TTL_S,
    Sessions,
    cookies,
    set_cookie,
)
from teamgate.errors import MethodNotAllowed, NotFound

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
_STATIC_TYPES = {
    "app.js": "text/javascript; charset=utf-8",
    "audit.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}


def _html_headers(extra: list[tuple[str, str]] | None = None) -> list[tuple[bytes, bytes]]:
    pairs = [
        ("content-type", "text/html; charset=utf-8"),
        ("content-security-policy", CSP),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
        ("referrer-policy", "no-referrer"),
        *(extra or []),
    ]
    return [(k.encode(), v.encode("latin-1")) for k, v in pairs]


def _page(title: str, body: str) -> bytes:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title>"
        '<link rel=stylesheet href="/dashboard/static/style.css"></head>'
        f"<body>{body}</body></html>"
    ).encode()


def login_page(csrf: str, error: str = "") -> bytes:
    message = f"<p class=error role=alert>{html.escape(error)}</p>" if error else ""
    return _page(
        "teamgate — sign in",
        "<main class=login><h1>teamgate</h1>"
        f"{message}"
        '<form method=post action="/dashboard/login">'
        f'<input type=hidden name=csrf value="{html.escape(csrf)}">'
        "<label>Admin key <input type=password name=key autocomplete=current-password "
        "required autofocus></label>"
        "<button type=submit>Sign in</button></form></main>",
    )


def dashboard_page(csrf: str) -> bytes:
    return _page(
        "teamgate — dashboard",
        "<header><h1>teamgate</h1><span id=period></span><span id=updated></span>"
        '<form method=post action="/dashboard/logout">'
        f'<input type=hidden name=csrf value="{html.escape(csrf)}">'
        "<button type=submit>Sign out</button></form></header>"
        "<main>"
        "<section><h2>Month-to-date spend vs budget</h2><div id=budget-chart></div>"
        "<table id=teams><thead><tr><th>Team</th><th>Spent</th><th>Budget</th><th>Used</th>"
        "<th>Projected month end</th><th>Runs out</th></tr></thead><tbody></tbody></table>"
        "</section>"
        "<section><h2>Daily spend per team</h2><div id=daily-chart></div></section>"
        "<section class=half><h2>Model mix</h2><div id=model-chart></div></section>"
        "<section class=half><h2>Refusals by reason</h2><div id=refusal-chart></div></section>"
        "<section><h2>Upstream keys</h2><table id=upstream><thead><tr><th>Project</th>"
        "<th>Key</th><th>State</th><th>Fingerprint</th><th>Requests</th><th>Failures</th>"
        "<th>Last used</th></tr></thead><tbody></tbody></table></section>"
        "<section><h2>Audit trail</h2><table id=audit><thead><tr><th>Time (UTC)</th>"
        "<th>Actor</th><th>Action</th><th>Target</th><th>After</th><th>From</th></tr></thead>"
        "<tbody></tbody></table></section>"
        '</main><script src="/dashboard/static/app.js"></script>'
        '<script src="/dashboard/static/audit.js"></script>',
    )


async def _redirect(send: Send, to: str, cookies_out: list[str] | None = None) -> None:
    headers = [(b"location", to.encode()), (b"cache-control", b"no-store")]
    headers += [(b"set-cookie", c.encode("latin-1")) for c in cookies_out or []]
    await send_bytes(send, 303, b"", headers)


async def _form(scope: Scope, receive: Receive) -> dict[str, str]:
    body = await read_body(scope, receive, 16 * 1024)
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[-1] for k, v in parsed.items()}


async def serve_dashboard(
    path: str, scope: Scope, receive: Receive, send: Send, auth: AdminAuth, sessions: Sessions
) -> None:
    """Answer a request under ``/dashboard``."""
    method = scope["method"]
    jar = cookies(scope)
    session = jar.get(SESSION_COOKIE)
    if path.startswith("/dashboard/static/"):
        name = path.removeprefix("/dashboard/static/")
        if name not in _STATIC_TYPES:
            raise NotFound(f"no dashboard asset {name!r}")
        data = resources.files("teamgate.dashboard").joinpath("static", name).read_bytes()
        await send_bytes(
            send,
            200,
            data,
            [(b"content-type", _STATIC_TYPES[name].encode()), (b"cache-control", b"no-cache")],
        )
        return
    if path in ("/dashboard", "/dashboard/"):
        if method != "GET":
            raise MethodNotAllowed(f"Method {method} is not allowed for {path}.")
        if not sessions.valid(session):
            await _redirect(send, "/dashboard/login")
            return
        assert session is not None
        await send_bytes(send, 200, dashboard_page(sessions.csrf(session) or ""), _html_headers())
        return
    if path == "/dashboard/login":
        auth.require_enabled()
        if method == "GET":
            csrf = secrets.token_urlsafe(32)
            cookie = set_cookie(LOGIN_CSRF_COOKIE, csrf, scope, max_age=3600)
            await send_bytes(send, 200, login_page(csrf), _html_headers([("set-cookie", cookie)]))
            return
        if method != "POST":
            raise MethodNotAllowed(f"Method {method} is not allowed for {path}.")
        form = await _form(scope, receive)
        expected = jar.get(LOGIN_CSRF_COOKIE, "")
        presented = form.get("csrf", "")
        csrf_ok = bool(expected) and secrets.compare_digest(expected, presented)
        if not csrf_ok or not auth.matches(form.get("key", "").encode()):
            csrf = secrets.token_urlsafe(32)
            cookie = set_cookie(LOGIN_CSRF_COOKIE, csrf, scope, max_age=3600)
            error = "Wrong admin key." if csrf_ok else "The form expired; try again."
            await send_bytes(
                send, 401, login_page(csrf, error), _html_headers([("set-cookie", cookie)])
            )
            return
        token = sessions.create()
        await _redirect(
            send,
            "/dashboard",
            [
                set_cookie(SESSION_COOKIE, token, scope, max_age=int(SESSION_TTL_S)),
                set_cookie(LOGIN_CSRF_COOKIE, "", scope, max_age=0),
            ],
        )
        return
    if path == "/dashboard/logout":
        if method != "POST":
            raise MethodNotAllowed(f"Method {method} is not allowed for {path}.")
        form = await _form(scope, receive)
        if sessions.check_csrf(session, form.get("csrf", "")):
            sessions.end(session)
        await _redirect(
            send, "/dashboard/login", [set_cookie(SESSION_COOKIE, "", scope, max_age=0)]
        )
        return
    raise NotFound(f"Unknown dashboard page {path}")
