"""A team's answer headers: whose budgets a key spends, and what every answer tells it.

The :class:`~teamgate.budget.Payer` is built once per request (``payer_of``) and passed
to :func:`answer_headers` / :func:`team_headers`, never rebuilt per answer.
"""

from __future__ import annotations

import aiohttp

from teamgate.budget import Payer
from teamgate.http.asgi import encode_headers
from teamgate.ledger.records import ClientKey
from teamgate.pricing.money import usd_text
from teamgate.runtime import Gateway
from teamgate.upstream.client import DROP_RESPONSE_RAW


def payer_of(key: ClientKey) -> Payer:
    """Whose budgets a request made with ``key`` spends: the key's own (if it has one), its
    environment's, its team's and the org's."""
    return Payer(key.team, key.environment, key.name, key.budget_pusd)


def team_headers(gw: Gateway, payer: Payer) -> list[tuple[str, str]]:
    """The team's ``x-ratelimit-*`` headers and the budget remaining: the tightest of the
    payer's scopes."""
    out = list(gw.limiter.headers(payer.team).items())
    remaining = gw.budget.remaining_pico(payer)
    if remaining is not None:
        out.append(("x-teamgate-budget-remaining-usd", usd_text(remaining, 6)))
    return out


def answer_headers(
    gw: Gateway, payer: Payer, resp: aiohttp.ClientResponse
) -> list[tuple[bytes, bytes]]:
    """Groq's response headers minus hop-by-hop and its org limits, plus the team's.

    Groq's headers stay the bytes they arrived as (no decoding and re-encoding per
    header: this runs on every answer).
    """
    headers = [(k, v) for k, v in resp.raw_headers if k.lower() not in DROP_RESPONSE_RAW]
    headers += encode_headers(team_headers(gw, payer))
    return headers
