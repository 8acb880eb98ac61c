"""A minimal OpenID provider for the callback tests: discovery, a JWKS of keys the test
makes, and a token endpoint that answers each code with the ID token the test chose.

The real provider (``oidc-provider`` from npm) drives the browser test; this one lets a
test hand the callback a tampered, expired or wrongly bound ID token.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa


@dataclass
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def jwk(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**public, "kid": self.kid, "use": "sig", "alg": "RS256"}


@dataclass
class FakeIdp:
    """Serve with ``ServerThread(idp)``; set ``issuer`` to its URL first."""

    issuer: str = ""
    client_id: str = "teamgate-test"
    keys: list[SigningKey] = field(default_factory=lambda: [SigningKey("k1")])
    tokens: dict[str, str] = field(default_factory=dict)  # code -> ID token to answer
    token_requests: list[dict[str, str]] = field(default_factory=list)
    jwks_fetches: int = 0

    def id_token(self, nonce: str, key: SigningKey | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": "user-1",
            "email": "ana@example.com",
            "groups": ["platform"],
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            **claims,
        }
        signer = key or self.keys[0]
        return jwt.encode(body, signer.private, algorithm="RS256", headers={"kid": signer.kid})

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if path == "/.well-known/openid-configuration":
            answer: Any = {
                "issuer": self.issuer,
                "authorization_endpoint": self.issuer + "/auth",
                "token_endpoint": self.issuer + "/token",
                "jwks_uri": self.issuer + "/jwks",
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        elif path == "/jwks":
            self.jwks_fetches += 1
            answer = {"keys": [k.jwk() for k in self.keys]}
        elif path == "/token":
            form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
            self.token_requests.append(form)
            token = self.tokens.get(form.get("code", ""))
            answer = {"id_token": token, "token_type": "Bearer"} if token else None
        else:
            answer = None
        status = 200 if answer is not None else 400
        data = json.dumps(answer if answer is not None else {"error": "invalid_grant"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": data})
