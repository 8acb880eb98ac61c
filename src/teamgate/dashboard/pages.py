"""The dashboard's pages: the login form, the page shell, its static assets, logout.

Login posts the admin key (compared in constant time) with a CSRF token that
must match the login cookie (double submit); success sets an HttpOnly,
SameSite=Strict session cookie (Secure behind TLS) and redirects to the page.
The page's script reads ``/dashboard/api/*`` (and ``/admin/upstream``) with that
cookie every 10 s; :mod:`teamgate.dashboard` describes the page's structure.
No CDN, no build step: everything is served from ``dashboard/static``.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from urllib.parse import parse_qs

from teamgate.admin.access import Principal
from teamgate.admin.auth import AdminAuth
from teamgate.dashboard.sessions import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Sessions,
    cookies,
    csrf_of,
    set_cookie,
)
from teamgate.http.asgi import Receive, Scope, Send, read_body, send_bytes
from teamgate.http.errors import MethodNotAllowed, NotFound

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
_STATIC_TYPES = {
    "actions.js": "text/javascript; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "audit.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}


def html_headers(extra: list[tuple[str, str]] | None = None) -> list[tuple[bytes, bytes]]:
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


def login_page(csrf: str, error: str = "", sso: str | None = None) -> bytes:
    """The sign-in page: a "Sign in with <provider>" button when single sign-on is set up
    (``sso``: the provider's name), and the admin key / ``tga_`` credential form."""
    message = f"<p class=error role=alert>{html.escape(error)}</p>" if error else ""
    button = (
        '<p class=sso><a class=button id=sso href="/dashboard/oidc/start">'
        f"Sign in with {html.escape(sso)}</a></p>"
        if sso
        else ""
    )
    return _page(
        "teamgate — sign in",
        "<main class=login><h1>teamgate</h1>"
        f"{message}{button}"
        '<form method=post action="/dashboard/login">'
        f'<input type=hidden name=csrf value="{html.escape(csrf)}">'
        "<label>Admin key or tga_ credential <input type=password name=key "
        "autocomplete=current-password required autofocus></label>"
        "<button type=submit>Sign in</button></form></main>",
    )


def _section(ident: str, title: str, body: str) -> str:
    return (
        f"<section id={ident} aria-labelledby={ident}-title>"
        f"<h2 id={ident}-title>{title}</h2>{body}</section>"
    )


def _table(ident: str, caption: str, columns: list[tuple[str, str]]) -> str:
    head = "".join(f"<th scope=col class={cls}>{name}</th>" for name, cls in columns)
    return (
        f'<div class=scroll tabindex=0 role=region aria-label="{caption} (scrolls)">'
        f"<table id={ident}><caption class=sr-only>{caption}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody></tbody></table></div>"
    )


def _key_controls(team_options: str) -> str:
    """Create a key (shown to whoever may create keys of a team; the secret appears once)."""
    return (
        "<form id=key-form class=controls hidden aria-label='Create a team key'>"
        f"<label>Team <select name=team>{team_options}</select></label>"
        "<label>Environment <input name=environment size=10 required></label>"
        "<label>Purpose <input name=purpose size=14 required pattern='[a-z0-9][a-z0-9_]*'>"
        "</label>"
        "<label>Expires in <input name=expires_in size=5 placeholder=90d></label>"
        "<button type=submit>Create key</button></form>"
        "<p id=new-secret class=secret role=status aria-live=polite></p>"
    )


def _pause_controls(team_options: str) -> str:
    """The pause switch (team, TEAM/ENV or key) and the pauses in force, each resumable."""
    form = (
        "<form id=pause-form class=controls hidden "
        "aria-label='Pause a team, an environment or a key'>"
        "<label>Pause <select name=kind><option value=team>team</option>"
        "<option value=env>environment</option><option value=key>key</option></select></label>"
        f"<label class=not-key>Team <select name=team>{team_options}</select></label>"
        "<label class=env-only>Environment <input name=env size=10></label>"
        "<label class=key-only>Key <input name=key size=20></label>"
        "<label>Reason <input name=reason size=24 required maxlength=500></label>"
        "<label>For <input name=until size=5 placeholder=2h></label>"
        "<button type=submit>Pause</button></form>"
    )
    return (
        form
        + "<p id=action-status role=status aria-live=polite></p>"
        + _table(
            "pause-table",
            "Pauses",
            [("Scope", ""), ("Reason", ""), ("Since", ""), ("Until", ""), ("By", ""),
             ("State", ""), ("Actions", "actions")],
        )
    )  # fmt: skip


def dashboard_page(csrf: str, teams: list[str], *, org: bool = True) -> bytes:
    """The one page: a scope and range bar, then the sections (see the package docstring)."""
    options = "".join(
        f'<option value="team:{html.escape(t)}">team {html.escape(t)}</option>' for t in teams
    )
    team_options = "".join(
        f'<option value="{html.escape(t)}">{html.escape(t)}</option>' for t in teams
    )
    controls = (
        "<form id=view class=controls aria-label='What to show'>"
        "<label>Scope <select id=scope name=scope>"
        + ("<option value=org>organization</option>" if org else "")
        + f"{options}"
        "</select></label>"
        "<label>Range <select id=range name=range><option value=month>this month</option>"
        "<option value=7d>last 7 days</option><option value=30d>last 30 days</option>"
        "<option value=custom>custom</option></select></label>"
        "<label class=custom>From <input type=date id=from name=from></label>"
        "<label class=custom>To <input type=date id=to name=to></label>"
        "<button type=submit>Show</button></form>"
    )
    log_filters = (
        "<form id=log-filters class=controls aria-label='Filter the request log'>"
        "<label>Team <select name=team><option value=''>any</option>"
        f"{team_options}</select></label>"
        "<label>Key <input name=key size=18></label>"
        "<label>Model <input name=model size=18></label>"
        "<label>Status <input name=status size=4 inputmode=numeric></label>"
        "<label>Reason <input name=reason size=14></label>"
        "<label>End user <input name=user size=14></label>"
        "<label>Tag <input name=tag size=16 placeholder=feature=search></label>"
        "<button type=submit>Filter</button>"
        "<a id=log-csv class=button href='/dashboard/api/requests?format=csv' download>"
        "Export CSV</a></form>"
    )
    overview = (
        "<div id=budget-chart class=chart></div>"
        "<p class=legend id=budget-legend></p>"
        + _table(
            "budget",
            "Spend against budget",
            [("Team", ""), ("Spent this month", "num"), ("Budget", "num"), ("Used", "num"),
             ("Projected month end", "num"), ("Runs out", ""), ("In range", "num"),
             ("Change vs previous", "num")],
        )
    )  # fmt: skip
    return _page(
        "teamgate — dashboard",
        "<header><h1>teamgate</h1>"
        f"{controls}"
        "<p id=updated role=status aria-live=polite></p>"
        '<form method=post action="/dashboard/logout" class=signout>'
        f'<input type=hidden name=csrf value="{html.escape(csrf)}">'
        "<button type=submit>Sign out</button></form></header>"
        "<main>"
        + _section("overview", "Spend against budget", overview)
        + _section(
            "teams",
            "Teams: requests and refusals by reason",
            _table(
                "team-table",
                "Per team",
                [("Team", ""), ("Requests", "num"), ("Refused", "num"), ("Refusals by reason", ""),
                 ("Errors", "num"), ("Cost", "num"), ("Change vs previous", "num")],
            ),
        )
        + _section(
            "keys",
            "Team keys",
            _key_controls(team_options)
            + _table(
                "key-table",
                "Team keys",
                [("Key", ""), ("Team", ""), ("State", ""), ("Flags", ""), ("Requests", "num"),
                 ("Refusals", "num"), ("Spend", "num"), ("Last used", ""), ("Expires", ""),
                 ("Actions", "actions")],
            ),
        )
        + _section("pauses", "Pauses", _pause_controls(team_options))
        + _section(
            "models",
            "Cost per model over time",
            "<div id=model-chart class=chart></div><p class=legend id=model-legend></p>"
            + _table("model-table", "Cost per model", [("Model", ""), ("Cost", "num")]),
        )
        + _section(
            "attribution",
            "Top end users and features",
            "<p>From the body's <code>user</code> or <code>x-teamgate-user</code>, "
            "and <code>x-teamgate-tags</code> (see docs/attribution.md); <i>(none)</i> is "
            "the requests that named no end user, or had no such tag.</p>"
            "<form id=tag-form class=controls aria-label='Which tag'>"
            "<label>Tag <input id=tag name=tag value=feature size=14 "
            "pattern='[a-z][a-z0-9_-]{0,31}'></label><button type=submit>Show</button></form>"
            + _table(
                "user-table",
                "Top end users by cost",
                [("End user", ""), ("Team", ""), ("Requests", "num"), ("Cost", "num")],
            )
            + _table(
                "tag-table",
                "Top tag values by cost",
                [("Tag value", ""), ("Team", ""), ("Requests", "num"), ("Cost", "num")],
            ),
        )
        + _section(
            "upstream",
            "Upstream (Groq) keys",
            _table(
                "upstream-table",
                "Upstream keys",
                [("Project", ""), ("Key", ""), ("State", ""), ("Fingerprint", ""),
                 ("Requests 24 h", "num"), ("Requests", "num"), ("Failures", "num"),
                 ("Last used", "")],
            ),
        )
        + _section(
            "requests",
            "Request log",
            log_filters
            + _table(
                "log-table",
                "Requests",
                [("Time", ""), ("Team", ""), ("Key", ""), ("Model", ""), ("Status", "num"),
                 ("Reason", ""), ("Tokens", "num"), ("Cost", "num")],
            )
            + "<button type=button id=log-more>Load more</button>",
        )
        + _section(
            "audit",
            "Audit trail",
            _table(
                "audit-table",
                "Audit trail",
                [("Time (UTC)", ""), ("Actor", ""), ("Action", ""), ("Target", ""),
                 ("After", ""), ("From", "")],
            ),
        )
        + '</main><script src="/dashboard/static/actions.js"></script>'
        + '<script src="/dashboard/static/app.js"></script>'
        + '<script src="/dashboard/static/audit.js"></script>',
    )  # fmt: skip


@dataclass(frozen=True)
class Login:
    """How the dashboard signs people in: the admin key or a ``tga_`` credential
    (``sign_in``), single sign-on when configured (``sso_name`` gives the provider's
    name, ``sso`` answers ``/dashboard/oidc/*``), the shared sessions, and the audit
    trail (``audit(scope, action, session id, principal)``)."""

    auth: AdminAuth
    sessions: Sessions
    sign_in: Callable[[str], Principal | None]
    audit: Callable[[Scope, str, str, Principal], Awaitable[None]]
    sso_name: Callable[[], str | None] = lambda: None
    sso: Callable[[str, Scope, Send, Login], Awaitable[None]] | None = None


async def start_session(login: Login, scope: Scope, who: Principal, via: str) -> list[str]:
    """A new session for ``who`` (audited as ``dashboard.sign_in``); its cookies."""
    token = await login.sessions.create(who, via)
    await login.audit(scope, "dashboard.sign_in", token, who)
    return [
        set_cookie(SESSION_COOKIE, token, scope, max_age=int(login.sessions.ttl_s)),
        set_cookie(LOGIN_CSRF_COOKIE, "", scope, max_age=0),
    ]


async def redirect(send: Send, to: str, cookies_out: list[str] | None = None) -> None:
    headers = [(b"location", to.encode()), (b"cache-control", b"no-store")]
    headers += [(b"set-cookie", c.encode("latin-1")) for c in cookies_out or []]
    await send_bytes(send, 303, b"", headers)


async def send_login_page(
    login: Login,
    scope: Scope,
    send: Send,
    status: int = 200,
    error: str = "",
    more_cookies: list[str] | None = None,
) -> None:
    """The sign-in page with a fresh login CSRF cookie (double submit)."""
    csrf = secrets.token_urlsafe(32)
    cookies_out = [set_cookie(LOGIN_CSRF_COOKIE, csrf, scope, max_age=3600), *(more_cookies or [])]
    page = login_page(csrf, error, login.sso_name())
    await send_bytes(send, status, page, html_headers([("set-cookie", c) for c in cookies_out]))


async def _form(scope: Scope, receive: Receive) -> dict[str, str]:
    body = await read_body(scope, receive, 16 * 1024)
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[-1] for k, v in parsed.items()}


async def serve_dashboard(
    path: str, scope: Scope, receive: Receive, send: Send, login: Login
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
        who = await login.sessions.principal(session)
        if who is None:
            await redirect(send, "/dashboard/login")
            return
        assert session is not None
        page = dashboard_page(csrf_of(session), list(who.visible_teams), org=who.can("read", None))
        await send_bytes(send, 200, page, html_headers())
        return
    if path.startswith("/dashboard/oidc/") and login.sso is not None:
        login.auth.require_enabled()
        await login.sso(path, scope, send, login)
        return
    if path == "/dashboard/login":
        login.auth.require_enabled()
        if method == "GET":
            await send_login_page(login, scope, send)
            return
        if method != "POST":
            raise MethodNotAllowed(f"Method {method} is not allowed for {path}.")
        form = await _form(scope, receive)
        expected = jar.get(LOGIN_CSRF_COOKIE, "")
        presented = form.get("csrf", "")
        csrf_ok = bool(expected) and secrets.compare_digest(expected, presented)
        who = login.sign_in(form.get("key", "")) if csrf_ok else None
        if who is None:
            error = "Wrong admin key." if csrf_ok else "The form expired; try again."
            await send_login_page(login, scope, send, 401, error)
            return
        via = "admin-key" if who.role == "org-admin" else "credential"
        await redirect(send, "/dashboard", await start_session(login, scope, who, via))
        return
    if path == "/dashboard/logout":
        if method != "POST":
            raise MethodNotAllowed(f"Method {method} is not allowed for {path}.")
        form = await _form(scope, receive)
        if login.sessions.check_csrf(session, form.get("csrf", "")):
            ended = await login.sessions.principal(session)
            if ended is not None and await login.sessions.end(session) is not None:
                assert session is not None
                await login.audit(scope, "dashboard.sign_out", session, ended)
        await redirect(send, "/dashboard/login", [set_cookie(SESSION_COOKIE, "", scope, max_age=0)])
        return
    raise NotFound(f"Unknown dashboard page {path}")
