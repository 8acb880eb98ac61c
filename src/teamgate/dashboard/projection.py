"""Month-end projection at the current pace, in integer picodollars.

>>> p = project(spent=50, budget=100, start=0, end=100, now=25)
>>> p.projected_pusd, p.runs_out_at
(200, 50)
>>> project(spent=10, budget=100, start=0, end=100, now=50).runs_out_at is None
True
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Projection:
    """Spend at month end if the pace so far holds, and when the budget runs out.

    ``runs_out_at`` (unix seconds) is None when the budget lasts the month (or there
    is no budget); it is ``now`` when the budget is already spent.
    """

    projected_pusd: int
    runs_out_at: int | None


def project(spent: int, budget: int | None, start: int, end: int, now: int) -> Projection:
    """Linear projection of ``spent`` over [start, now) to ``end`` (whole seconds)."""
    elapsed = max(now - start, 1)
    left = max(end - now, 0)
    projected = spent + spent * left // elapsed
    if budget is None or spent <= 0:
        return Projection(projected, None)
    if spent >= budget:
        return Projection(projected, now)
    at = now + (budget - spent) * elapsed // spent
    return Projection(projected, at if at < end else None)
