"""The refusal messages of the budget book.

Money stays integer picodollars until this edge, where it becomes text
(:func:`teamgate.pricing.money.format_usd`).
"""

from __future__ import annotations

from teamgate.budget.scopes import ORG, describe, scope_kind
from teamgate.pricing.money import format_usd
from teamgate.text.display import percent


def _who(scope: str) -> str:
    return describe(scope) + " has"


def _whose(scope: str) -> str:
    return describe(scope) + "'s"


_CAP = {
    "team": "the team's cap",
    "env": "its team's cap",
    "key": "its team's cap",
    "org": "its team's cap",
}


def refusal_message(
    *,
    scope: str,
    settled: int,
    budget: int,
    amount: int,
    period_key: str,
    reset_text: str,
) -> str:
    """Why a request is refused: its worst case does not fit beside the settled spend.

    ``scope`` is the scope that refused (``team:chatbot``, ``env:chatbot/staging``,
    ``key:NAME``, or ``org``: the organization's cap, auto-pause). When the budget is
    not spent yet, the message says that it is this request's *worst case* (every
    prompt token and all of its ``max_completion_tokens``) that does not fit in what
    is left, so a developer does not read "the budget is gone" at 16 % used.

    >>> refusal_message(scope="team:chatbot", settled=200 * 10**12, budget=200 * 10**12,
    ...     amount=10**10, period_key="2026-11", reset_text="2026-12-01 00:00 UTC")
    'Team `chatbot` has reached its monthly budget: spent $200.00 of $200.00 this month (2026-11); the budget resets on 2026-12-01 00:00 UTC.'
    >>> print(refusal_message(scope="team:research", settled=98 * 10**6, budget=600 * 10**6,
    ...     amount=3_406 * 10**6, period_key="2026-11", reset_text="2026-12-01 00:00 UTC"))
    Team `research`'s monthly budget cannot cover this request's worst case: it may cost up to $0.00341 (every prompt token and all of its max_completion_tokens, or the team's cap when it sent none), and $0.000502 is left of $0.0006 this month (2026-11; $0.000098 spent, 16.3% used). The budget resets on 2026-12-01 00:00 UTC.
    """  # noqa: E501
    if settled >= budget:
        head = _who(scope) + " reached its monthly budget"
        if scope == ORG:
            head += " (auto-pause)"
        spent = f"spent {format_usd(settled)} of {format_usd(budget)} this month ({period_key})"
        return f"{head}: {spent}; the budget resets on {reset_text}."
    cap = _CAP[scope_kind(scope)]
    return (
        f"{_whose(scope)} monthly budget cannot cover this request's worst case: it may cost "
        f"up to {format_usd(amount)} (every prompt token and all of its max_completion_tokens, "
        f"or {cap} when it sent none), and {format_usd(budget - settled)} is left of "
        f"{format_usd(budget)} this month ({period_key}; {format_usd(settled)} spent, "
        f"{percent(settled, budget)} used). The budget resets on {reset_text}."
    )


def wait_timeout_message(
    *,
    scope: str,
    settled: int,
    reserved: int,
    budget: int,
    amount: int,
    period_key: str,
    waited_s: float,
) -> str:
    """Why a request that waited for reservations in flight gave up."""
    return (
        f"{_whose(scope)} monthly budget is held by requests in flight: spent "
        f"{format_usd(settled)} and reserved {format_usd(reserved)} of {format_usd(budget)} "
        f"this month ({period_key}), and this request may cost up to {format_usd(amount)}; "
        f"waited {waited_s:g} s for them to finish. Retry shortly or lower max_tokens."
    )
