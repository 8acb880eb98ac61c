"""The rows teamgate keeps: usage records and client keys.

Money is integer picodollars (1 USD = 10**12): every Groq price has at most six
decimals per million tokens, so tokens x price is an exact integer and sums of
any number of records are exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

UsageSource = Literal["reported", "estimated", "none"]


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One request that reached (or was meant for) Groq, priced.

    ``status`` is the HTTP status the client got; ``refusal`` names why teamgate
    refused it (``team_budget``, ``org_rate_limit``, ``model_not_allowed``, …; the
    codes are in docs/refusals.md) or is empty for requests that were forwarded and
    for a client that went away while waiting (status 499: an outcome, not a refusal).
    """

    ts: float  # unix seconds, when the request arrived
    request_id: str  # teamgate's own id (also sent to the client as x-request-id)
    groq_id: str  # x_groq.id, empty when Groq gave none
    team: str
    environment: str
    purpose: str
    client_key: str  # the client key's name, never its secret
    upstream_key: str  # the upstream key's name, never its secret
    model_requested: str
    model_served: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost_pusd: int  # picodollars
    status: int
    latency_ms: float
    streamed: bool
    usage_source: UsageSource
    endpoint: str = "chat.completions"
    refusal: str = ""
    end_user: str = ""  # the body's `user` or x-teamgate-user (ledger/attribution.py)
    tags: str = ""  # canonical x-teamgate-tags: "feature=search,tenant=acme", keys sorted


@dataclass(frozen=True, slots=True)
class ClientKey:
    """A team key as stored: only its SHA-256 hash, never the secret."""

    name: str  # {team}-{environment}-{purpose}
    key_hash: str  # hex sha256 of the full secret
    fingerprint: str  # "tg_…" + last 4 characters, for listings
    team: str
    environment: str
    purpose: str
    created_at: float
    expires_at: float | None = None
    revoked_at: float | None = None
    last_used_at: float | None = None
    budget_pusd: int | None = None  # the key's own monthly budget (picodollars); None: none

    def usable(self, now: float) -> bool:
        if self.revoked_at is not None and self.revoked_at <= now:
            return False
        return self.expires_at is None or self.expires_at > now
