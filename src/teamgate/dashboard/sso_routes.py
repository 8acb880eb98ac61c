"""``/dashboard/oidc/start`` and ``/dashboard/oidc/callback``: single sign-on's two pages.

``start`` makes a fresh ``state``, ``nonce`` and PKCE verifier, keeps them in a
short-lived HttpOnly cookie (``tg_oidc``, ``SameSite=Lax`` so that it comes back
with the provider's redirect; nothing is kept in one process's memory, so the
callback may reach any instance) and sends the browser to the provider.
``callback`` checks ``state``, exchanges the code, verifies the ID token
(:mod:`teamgate.dashboard.oidc`), maps its claims to a role
(:mod:`teamgate.dashboard.sso_roles`) and opens a shared session. It answers with a
page that moves on to ``/dashboard`` itself: the session cookie is
``SameSite=Strict``, which a browser withholds on a redirect chain that began at
the provider. Refusals show the sign-in page with the reason (never a token).
"""

from __future__ import annotations

import html
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from teamgate.config.extras import import_for
from teamgate.config.schema import OidcSettings
from teamgate.dashboard.pages import Login, _page, html_headers, send_login_page, start_session
from teamgate.dashboard.sessions import cookies, set_cookie
from teamgate.dashboard.sso_roles import principal_from_claims, user_name
from teamgate.http.asgi import Scope, Send, send_bytes
from teamgate.http.errors import MethodNotAllowed, NotFound

if TYPE_CHECKING:
    from teamgate.dashboard.oidc import OidcClient

log = logging.getLogger("teamgate.dashboard.sso")

FLOW_COOKIE = "tg_oidc"
FLOW_PATH = "/dashboard/oidc"
FLOW_TTL_S = 600


class SingleSignOn:
    """Single sign-on as configured now (``settings`` is read at each request, so a
    reload takes effect; the client, with its discovery and JWKS caches, is kept while
    the settings stay the same). ``secret(ref)`` reads the client secret reference."""

    def __init__(
        self,
        settings: Callable[[], OidcSettings | None],
        teams: Callable[[], Iterable[str]],
        secret: Callable[[str], Awaitable[str]],
        *,
        client_factory: Callable[[OidcSettings, str | None], OidcClient] | None = None,
    ) -> None:
        self._settings = settings
        self._teams = teams
        self._secret = secret
        self._factory = client_factory
        self._client: tuple[OidcSettings, OidcClient] | None = None

    def name(self) -> str | None:
        """The provider's name for the login page's button; None when not configured."""
        oidc = self._settings()
        return None if oidc is None else oidc.provider_name

    async def client(self, oidc: OidcSettings) -> OidcClient:
        if self._client is not None and self._client[0] == oidc:
            return self._client[1]
        oidc_module = import_for("teamgate.dashboard.oidc", "oidc", "dashboard.oidc", "set")
        secret = None
        if oidc.client_secret is not None:
            try:
                secret = await self._secret(oidc.client_secret)
            except Exception as exc:  # SecretUnavailable: names the reference, never a value
                raise oidc_module.SignInRefused(
                    f"the client secret cannot be read: {exc}"
                ) from None
        if self._factory is not None:
            made = self._factory(oidc, secret)
        else:
            made = oidc_module.OidcClient(
                oidc.issuer, oidc.client_id, secret, oidc.redirect_url, oidc.scopes
            )
        self._client = (oidc, made)
        return made

    async def serve(self, path: str, scope: Scope, send: Send, login: Login) -> None:
        oidc = self._settings()
        if oidc is None or path not in (f"{FLOW_PATH}/start", f"{FLOW_PATH}/callback"):
            raise NotFound(f"Unknown dashboard page {path}")
        if scope["method"] != "GET":
            raise MethodNotAllowed(f"Method {scope['method']} is not allowed for {path}.")
        oidc_module = import_for("teamgate.dashboard.oidc", "oidc", "dashboard.oidc", "set")
        try:
            if path.endswith("/start"):
                await self._start(oidc, scope, send)
            else:
                await self._callback(oidc, scope, send, login)
        except oidc_module.SignInRefused as refused:
            log.warning("single sign-on refused: %s", refused)
            await send_login_page(
                login, scope, send, 401, f"Single sign-on failed: {refused}.", [_clear_flow(scope)]
            )

    async def _start(self, oidc: OidcSettings, scope: Scope, send: Send) -> None:
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        url = await (await self.client(oidc)).authorization_url(state, nonce, verifier)
        flow = set_cookie(
            FLOW_COOKIE,
            f"{state}.{nonce}.{verifier}",
            scope,
            max_age=FLOW_TTL_S,
            same_site="Lax",
            path=FLOW_PATH,
        )
        headers = [(b"location", url.encode()), (b"cache-control", b"no-store")]
        await send_bytes(send, 303, b"", [*headers, (b"set-cookie", flow.encode("latin-1"))])

    async def _callback(self, oidc: OidcSettings, scope: Scope, send: Send, login: Login) -> None:
        refused = import_for(
            "teamgate.dashboard.oidc", "oidc", "dashboard.oidc", "set"
        ).SignInRefused
        query = {
            k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()
        }
        if "error" in query:
            code = query["error"] if query["error"].isidentifier() else "error"
            raise refused(f"the provider did not sign you in ({code[:40]})")
        state, _, rest = cookies(scope).get(FLOW_COOKIE, "").partition(".")
        nonce, _, verifier = rest.partition(".")
        if not (state and nonce and verifier):
            raise refused("the sign-in expired or began in another browser; try again")
        if not secrets.compare_digest(state, query.get("state", "")):
            raise refused("the answer's state is not this browser's sign-in")
        if not query.get("code"):
            raise refused("the provider's answer has no code")
        if "iss" in query and query["iss"] != oidc.issuer:  # RFC 9207: a mixed-up provider
            raise refused("the answer comes from another issuer")
        client = await self.client(oidc)
        claims = await client.verify(await client.exchange(query["code"], verifier), nonce)
        who = principal_from_claims(claims, oidc, self._teams())
        if who is None:
            name = user_name(claims, oidc.username_claim)
            raise refused(
                f"{name} has no role in teamgate (no value of the {oidc.claim!r} claim "
                "is mapped in dashboard.oidc.roles)"
            )
        cookies_out = [*await start_session(login, scope, who, "oidc"), _clear_flow(scope)]
        page = _page(
            "teamgate — signed in",
            '<main class=login><meta http-equiv=refresh content="0;url=/dashboard">'
            f"<p>Signed in as {html.escape(who.name)}. "
            '<a href="/dashboard">Open the dashboard</a></p></main>',
        )
        await send_bytes(send, 200, page, html_headers([("set-cookie", c) for c in cookies_out]))


def _clear_flow(scope: Scope) -> str:
    return set_cookie(FLOW_COOKIE, "", scope, max_age=0, same_site="Lax", path=FLOW_PATH)
