"""The OpenID Connect client of the dashboard's single sign-on (needs the ``oidc`` extra).

The authorization-code flow with PKCE (S256): :meth:`OidcClient.authorization_url`
sends the browser to the provider with a fresh ``state``, ``nonce`` and code
challenge; the callback exchanges the code (with the verifier) at the token
endpoint and :meth:`OidcClient.verify` checks the ID token:

- its signature, with the provider's key named by ``kid`` from the JWKS of its
  discovery document (cached; fetched again when a token names an unknown ``kid``,
  so a key rotation needs no restart), and only an asymmetric algorithm the
  provider announces (never ``none`` or a shared-secret HMAC);
- ``iss`` (exactly the configured issuer), ``aud`` (the client id; ``azp`` when
  there are several audiences), ``exp`` and ``iat`` (against the injected clock,
  with ``LEEWAY_S`` of skew), and ``nonce`` (the one this browser was given).

Signatures and JWK parsing are PyJWT's (``pyjwt[crypto]``); HTTP is aiohttp's.
Errors are :class:`SignInRefused` with a reason that never holds a token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import jwt

LEEWAY_S = 60.0
"""Clock skew allowed between this machine and the provider."""
JWKS_REFETCH_S = 30.0
"""An unknown ``kid`` fetches the JWKS again at most this often (a flood of forged
``kid`` values cannot turn into a flood of requests to the provider)."""
ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
HTTP_TIMEOUT_S = 10.0

Fetch = Callable[[str, str, Mapping[str, str] | None, str | None], Awaitable[dict[str, Any]]]
"""``fetch(method, url, form, basic_auth)``: a JSON object from the provider."""


class SignInRefused(Exception):
    """Single sign-on did not sign anyone in; ``str()`` is safe to show and log."""


@dataclass(frozen=True)
class Provider:
    """What the discovery document says (the parts used here)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    algorithms: frozenset[str]


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a PKCE verifier (RFC 7636).

    >>> pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
    'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'
    """
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def http_fetch(
    method: str, url: str, form: Mapping[str, str] | None, basic_auth: str | None
) -> dict[str, Any]:
    """One request to the provider: JSON object in, or :class:`SignInRefused`."""
    headers = {"accept": "application/json"}
    if basic_auth is not None:
        headers["authorization"] = f"Basic {basic_auth}"
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(method, url, data=form, headers=headers) as resp,
        ):
            body = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        reason = type(exc).__name__
        raise SignInRefused(f"the provider could not be reached at {url} ({reason})") from None
    if not isinstance(body, dict):
        raise SignInRefused(f"the provider's answer from {url} is not a JSON object")
    if resp.status >= 400:
        error = body.get("error")
        code = error if isinstance(error, str) and error.isascii() and len(error) < 64 else ""
        raise SignInRefused(f"the provider refused ({resp.status} {code})".replace(" )", ")"))
    return body


def _basic(client_id: str, secret: str) -> str:
    """HTTP Basic credentials of a client, form-encoded first (RFC 6749 §2.3.1)."""
    pair = f"{urlencode({'': client_id})[1:]}:{urlencode({'': secret})[1:]}"
    return base64.b64encode(pair.encode()).decode()


class OidcClient:
    """One provider, one client. ``fetch`` and ``clock`` are injected in tests."""

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str | None,
        redirect_url: str,
        scopes: tuple[str, ...],
        *,
        fetch: Fetch = http_fetch,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self._secret = client_secret
        self.redirect_url = redirect_url
        self.scopes = scopes
        self._fetch = fetch
        self._clock = clock
        self._provider: Provider | None = None
        self._keys: dict[str, dict[str, Any]] = {}  # the JWKS's signing keys, by kid
        self._keys_fetched_at: float | None = None

    async def provider(self) -> Provider:
        """The discovery document (fetched once; again after a failure)."""
        if self._provider is None:
            url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
            doc = await self._fetch("GET", url, None, None)
            if doc.get("issuer") != self.issuer:
                raise SignInRefused(
                    f"the discovery document names issuer {str(doc.get('issuer'))[:200]!r}, "
                    f"not {self.issuer!r}"
                )
            try:
                announced = doc.get("id_token_signing_alg_values_supported") or ["RS256"]
                self._provider = Provider(
                    self.issuer,
                    str(doc["authorization_endpoint"]),
                    str(doc["token_endpoint"]),
                    str(doc["jwks_uri"]),
                    frozenset(a for a in announced if a in ASYMMETRIC),
                )
            except KeyError as missing:
                raise SignInRefused(f"the discovery document has no {missing}") from None
        return self._provider

    async def authorization_url(self, state: str, nonce: str, verifier: str) -> str:
        """Where to send the browser to sign in."""
        provider = await self.provider()
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": self.redirect_url,
                "scope": " ".join(self.scopes),
                "state": state,
                "nonce": nonce,
                "code_challenge": pkce_challenge(verifier),
                "code_challenge_method": "S256",
            }
        )
        sep = "&" if "?" in provider.authorization_endpoint else "?"
        return f"{provider.authorization_endpoint}{sep}{query}"

    async def exchange(self, code: str, verifier: str) -> str:
        """The ID token for an authorization code (sent with the PKCE verifier)."""
        provider = await self.provider()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_url,
            "code_verifier": verifier,
        }
        basic = None
        if self._secret is None:
            form["client_id"] = self.client_id  # a public client names itself
        else:
            basic = _basic(self.client_id, self._secret)
        body = await self._fetch("POST", provider.token_endpoint, form, basic)
        token = body.get("id_token")
        if not isinstance(token, str) or not token:
            raise SignInRefused("the provider's token answer has no ID token")
        return token

    async def verify(self, id_token: str, nonce: str) -> dict[str, Any]:
        """The ID token's claims once everything checks (see the module docstring)."""
        provider = await self.provider()
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.InvalidTokenError:
            raise SignInRefused("the ID token is not a signed JWT") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in (provider.algorithms or {"RS256"}):
            raise SignInRefused(f"the ID token's algorithm {str(alg)[:20]!r} is not accepted")
        key = await self._key(header.get("kid"), alg)
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key,
                algorithms=[alg],
                audience=self.client_id,
                issuer=self.issuer,
                options={
                    "require": ["iss", "aud", "sub", "exp", "iat"],
                    "verify_exp": False,  # checked below against the injected clock
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise SignInRefused("the ID token's signature does not verify") from None
        except jwt.InvalidAudienceError:
            raise SignInRefused("the ID token is for another client (aud)") from None
        except jwt.InvalidIssuerError:
            raise SignInRefused("the ID token is from another issuer (iss)") from None
        except jwt.InvalidTokenError as exc:
            raise SignInRefused(f"the ID token is not valid ({type(exc).__name__})") from None
        self._check_claims(claims, nonce)
        return claims

    def _check_claims(self, claims: Mapping[str, Any], nonce: str) -> None:
        now = self._clock()
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= now - LEEWAY_S:
            raise SignInRefused("the ID token has expired")
        if not isinstance(iat, int | float) or isinstance(iat, bool) or iat > now + LEEWAY_S:
            raise SignInRefused("the ID token was issued in the future (iat)")
        audience = claims.get("aud")
        if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != self.client_id:
            raise SignInRefused("the ID token was issued to another party (azp)")
        presented = claims.get("nonce")
        if not isinstance(presented, str) or not hmac.compare_digest(presented, nonce):
            raise SignInRefused("the ID token's nonce is not this sign-in's")

    async def _key(self, kid: object, alg: str) -> jwt.PyJWK:
        """The signing key named ``kid``: from the cache, else from a fresh JWKS."""
        found = self._pick(kid, alg)
        now = self._clock()
        recent = self._keys_fetched_at is not None and now - self._keys_fetched_at < JWKS_REFETCH_S
        if found is None and not recent:
            provider = await self.provider()
            jwks = await self._fetch("GET", provider.jwks_uri, None, None)
            self._keys_fetched_at = now
            self._keys = _signing_keys(jwks)
            found = self._pick(kid, alg)
        if found is None:
            raise SignInRefused("the ID token is signed with a key the provider does not publish")
        return found

    def _pick(self, kid: object, alg: str) -> jwt.PyJWK | None:
        """The key ``kid`` for ``alg`` (a token without ``kid``: the one key that fits)."""
        if isinstance(kid, str):
            entries = [self._keys[kid]] if kid in self._keys else []
        else:
            entries = list(self._keys.values())
        fitting = [e for e in entries if e.get("alg", alg) == alg]
        if len(fitting) != 1:
            return None
        try:
            return jwt.PyJWK(fitting[0], algorithm=alg)
        except (jwt.PyJWKError, jwt.InvalidKeyError):
            return None


def _signing_keys(jwks: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The JWKS's signing keys by ``kid`` (keys for encryption skipped)."""
    keys: dict[str, dict[str, Any]] = {}
    listed = jwks.get("keys")
    for index, entry in enumerate(listed if isinstance(listed, list) else []):
        if isinstance(entry, dict) and entry.get("use", "sig") == "sig":
            keys[str(entry.get("kid", f"#{index}"))] = entry
    return keys
