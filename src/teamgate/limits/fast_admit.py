"""Admission of the common case without building a plan per request.

With the in-memory backend and a team that rejects (``on_limit: reject``), a
request whose every slot and check passes needs no queue, no refusal and no
per-request :class:`~teamgate.limits.plan.AdmissionPlan`: :class:`FastPlan`
holds, per (team, model), what the checks of any token count are, and a
backend's :meth:`~teamgate.limits.counters.Counters.try_admit_now` takes the
slots (their handles go to the ticket) and the GCRA cells at once, or nothing (the
limiter's full path then decides, exactly as before). A backend behind a round trip
(Redis) answers None.

>>> from teamgate.config.schema import Limits, Settings, TeamConfig
>>> from teamgate.limits.memory import MemoryCounters
>>> from teamgate.limits.plan import build_plan
>>> team = TeamConfig("chatbot", ("m",), 4096, limits=Limits(rpm=60, tpm=10000))
>>> fast = FastPlan.of(build_plan(Settings(teams={"chatbot": team}), "chatbot", "m", 1))
>>> [key for key, *_ in fast.specs]
['team:chatbot:rpm', 'team:chatbot:tpm']
>>> MemoryCounters().try_admit_now(fast, 2000, now=0.0, slots=[]) is not None
True
>>> MemoryCounters().try_admit_now(fast, 20000, now=0.0, slots=[]) is None   # over the TPM
True
"""

from __future__ import annotations

from dataclasses import dataclass

from teamgate.limits.counters import RateCheck
from teamgate.limits.plan import AdmissionPlan, PlannedSlot


@dataclass(frozen=True, slots=True)
class FastPlan:
    """A (team, model)'s checks as ``(key, limit, period, per_token)``, its token checks
    (for refunds, which read only key, limit and period) and its slots."""

    specs: tuple[tuple[str, int, float, bool], ...]
    token_checks: tuple[RateCheck, ...]
    slots: tuple[PlannedSlot, ...]

    @classmethod
    def of(cls, template: AdmissionPlan) -> FastPlan:
        """From the plan for 1 token (every check present, token checks costing 1)."""
        specs = tuple(
            (p.check.key, p.check.limit, p.check.period, p.is_tokens) for p in template.checks
        )
        tokens = tuple(p.check for p in template.checks if p.is_tokens)
        return cls(specs, tokens, template.slots)
