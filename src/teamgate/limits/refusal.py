"""Why an admission attempt failed, in Groq's words.

Messages are modeled on Groq's 429s ("Rate limit reached for model `M` in
organization `org_…` … on tokens per minute (TPM): Limit 6000, Used 5000,
Requested 1200. Please try again in 2.1s."), naming the team instead of the org.

>>> from teamgate.config.schema import Limits, Settings, TeamConfig
>>> from teamgate.limits.plan import build_plan
>>> team = TeamConfig("chatbot", ("m",), 4096, limits=Limits(rpm=60))
>>> plan = build_plan(Settings(teams={"chatbot": team}), "chatbot", "m", tokens=10)
>>> print(rate_refusal(plan, blocking=(0,), remaining=0, retry_after=1.2).message)
... # doctest: +NORMALIZE_WHITESPACE
Rate limit reached for team `chatbot` on requests per minute (RPM):
Limit 60, Used 60, Requested 1. Please try again in 1.2s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from teamgate.http.errors import PayloadTooLarge, RateLimited
from teamgate.limits.headers import format_reset
from teamgate.limits.plan import METRIC_NAMES, AdmissionPlan, PlannedSlot, describe_scope

CONCURRENCY_RETRY_S = 1.0
"""The retry-after of a refusal by a concurrency limit (when a slot frees is unknowable)."""

MIN_RETRY_S = 0.001
"""The smallest retry-after announced for a refusal that is about to expire."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """A failed attempt. ``retry_after`` None means "when a concurrency slot frees".

    ``reason`` is the message up to "Please try again in ...", which
    :attr:`message` adds. ``org_blocked`` / ``team_blocked``: whether an
    org-level / team-level limit refused (both can be true). ``at``: the clock
    when it was decided, for :meth:`aged`.
    """

    reason: str
    type: str
    retry_after: float | None
    org_blocked: bool
    team_blocked: bool
    at: float = 0.0
    by_groq: bool = False  # Groq's headers said the org's limit is exhausted

    @property
    def code(self) -> str:
        """The ledger's refusal reason: who refused.

        The codes are :data:`~teamgate.http.errors.RATE_LIMIT_REASONS`.

        An org limit wins over a team one when both refuse: raising the team's alone
        would not help.
        """
        if self.by_groq:
            return "groq_rate_limit"
        return "org_rate_limit" if self.org_blocked else "team_rate_limit"

    @property
    def wait_s(self) -> float:
        """The retry-after to announce (a concurrency refusal announces 1 s)."""
        return CONCURRENCY_RETRY_S if self.retry_after is None else self.retry_after

    @property
    def message(self) -> str:
        return f"{self.reason} Please try again in {format_reset(self.wait_s)}."

    def aged(self, now: float) -> Refusal:
        """The same refusal seen at ``now``: the retry-after shortened by the time passed."""
        if self.retry_after is None:
            return self
        left = max(self.retry_after - (now - self.at), MIN_RETRY_S)
        return replace(self, retry_after=left, at=now)

    def error(self, headers: dict[str, str]) -> RateLimited:
        """The 429 to answer with (``retry-after`` rounded up, so it is true)."""
        return RateLimited(
            self.message,
            retry_after_s=self.wait_s,
            type=self.type,
            headers=headers,
            reason=self.code,
        )


def too_large_error(plan: AdmissionPlan) -> PayloadTooLarge | None:
    """Groq's 413 when the request alone exceeds a token limit, else None."""
    planned = plan.too_large
    if planned is None:
        return None
    check = planned.check
    return PayloadTooLarge(
        f"Request too large for {describe_scope(planned.scope, plan.team, plan.model)} on "
        f"{METRIC_NAMES[planned.metric]}: Limit {check.limit}, Requested {check.cost}, "
        "please reduce your message size and try again.",
        code="rate_limit_exceeded",
        type="tokens",
    )


def rate_refusal(
    plan: AdmissionPlan,
    blocking: Sequence[int],
    remaining: int,
    retry_after: float,
    at: float = 0.0,
) -> Refusal:
    """Refused by rate checks ``blocking`` (indices into ``plan.checks``)."""
    first = plan.checks[blocking[0]]
    check = first.check
    message = (
        f"Rate limit reached for {describe_scope(first.scope, plan.team, plan.model)} on "
        f"{METRIC_NAMES[first.metric]}: Limit {check.limit}, Used {check.limit - remaining}, "
        f"Requested {check.cost}."
    )
    blockers = [plan.checks[i] for i in blocking]
    return Refusal(
        reason=message,
        type="tokens" if first.is_tokens else "requests",
        retry_after=retry_after,
        org_blocked=any(p.is_org for p in blockers),
        team_blocked=any(not p.is_org for p in blockers),
        at=at,
    )


def slot_refusal(plan: AdmissionPlan, slot: PlannedSlot, at: float = 0.0) -> Refusal:
    """Refused because every concurrency slot of ``slot`` is taken."""
    is_org = slot.scope in ("org", "org_model")
    return Refusal(
        reason=(
            f"Rate limit reached for {describe_scope(slot.scope, plan.team, plan.model)} on "
            f"concurrent requests: Limit {slot.limit}, Used {slot.limit}, Requested 1."
        ),
        type="requests",
        retry_after=None,
        org_blocked=is_org,
        team_blocked=not is_org,
        at=at,
    )


def pause_refusal(plan: AdmissionPlan, wait: float, at: float = 0.0) -> Refusal:
    """Held because Groq's own headers said the org's limit for the model is exhausted."""
    return Refusal(
        reason=(
            f"Rate limit reached for team `{plan.team}`: Groq reports the organization's "
            f"limit for model `{plan.model}` is exhausted."
        ),
        type="requests",
        retry_after=wait,
        org_blocked=False,
        team_blocked=False,
        at=at,
        by_groq=True,
    )


def queue_timeout_refusal(team: str, at: float = 0.0) -> Refusal:
    """Timed out in the queue without ever having tried (others were ahead)."""
    return Refusal(
        reason=(
            f"Rate limit reached for team `{team}`: the request waited its turn in the "
            "team's queue for the longest allowed."
        ),
        type="requests",
        retry_after=CONCURRENCY_RETRY_S,
        org_blocked=False,
        team_blocked=True,
        at=at,
    )
