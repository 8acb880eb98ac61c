"""GCRA: the generic cell rate algorithm, as pure functions over one float per key.

Why GCRA (and not a fixed or sliding window):

- **Exact.** GCRA is an exact token bucket whose burst is the full limit: a
  limit ``L`` per period ``P`` lets ``L`` units through at once and then one
  unit every ``T = P / L`` seconds. There is no window-boundary approximation
  (a fixed window lets ``2L`` through around a boundary; a sliding-window
  counter interpolates).
- **O(1) state.** The whole state of a key is one number, the *theoretical
  arrival time* (TAT): the moment at which the bucket would be full again. In
  Redis that is one string value per key, updated by one Lua script.
- **Exact retry-after.** A refused request is told exactly when it would fit:
  ``retry_after = max(tat, now) + cost*T - P - now``.
- **Same shape as Groq's limits.** Groq's limits replenish continuously; its
  ``x-ratelimit-reset-*`` headers count down to *full*, which is exactly
  ``tat - now`` here.

The rules, with emission interval ``T = P / L`` and tolerance ``P``:

- admit ``n`` units iff ``max(tat, now) + n*T - now <= P``; then
  ``tat := max(tat, now) + n*T``;
- remaining units at ``now``: ``floor((P - max(tat - now, 0)) / T)``;
- refund ``n`` units (the reservation was larger than the actual usage):
  ``tat := max(tat - n*T, now)`` (never below now: a refund cannot create
  capacity that was never used).

Floats: TATs are wall-clock seconds (about 1.7e9, one ulp is about 2.4e-7 s),
so comparisons allow :data:`EPSILON_S` of slack. It is far smaller than any
realistic emission interval, so it never admits an extra unit; it only makes
"wait exactly ``retry_after``" reliably succeed.

>>> r = gcra_check(tat=0.0, now=100.0, cost=1, limit=60, period=60.0)
>>> r.allowed, r.new_tat, r.remaining, r.reset_after
(True, 101.0, 59, 1.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

EPSILON_S = 1e-6
"""Slack (seconds) in comparisons, absorbing float rounding of wall-clock TATs."""


@dataclass(frozen=True, slots=True)
class GcraResult:
    """The outcome of one :func:`gcra_check`.

    ``new_tat`` is the state to store when the check is committed (equal to the
    old state, or ``now`` if that is later, when refused). ``retry_after`` is 0
    when allowed, else the exact wait in seconds after which the same request
    fits. ``remaining`` and ``reset_after`` describe the key after the decision
    (units left, seconds until full).
    """

    allowed: bool
    new_tat: float
    retry_after: float
    remaining: int
    reset_after: float


def emission_interval(limit: int, period: float) -> float:
    """Seconds one unit occupies: ``period / limit``."""
    if limit <= 0:
        raise ValueError(f"limit must be positive, got {limit}")
    return period / limit


def gcra_peek(tat: float, now: float, limit: int, period: float) -> tuple[int, float]:
    """``(remaining, reset_after)`` of a key without changing it.

    >>> gcra_peek(tat=130.0, now=100.0, limit=60, period=60.0)
    (30, 30.0)
    """
    interval = emission_interval(limit, period)
    used_s = max(tat - now, 0.0)
    remaining = math.floor((period - used_s + EPSILON_S) / interval)
    return max(0, min(limit, remaining)), used_s


def gcra_admit(tat: float, now: float, cost: int, limit: int, period: float) -> float | None:
    """The admission rule, the one copy of it: the new TAT when ``cost`` units fit now,
    else None (also for a cost above the limit, or an invalid check, which
    :func:`gcra_check` then reports). The memory backend's fast paths call it too.

    >>> gcra_admit(tat=0.0, now=100.0, cost=1, limit=60, period=60.0)
    101.0
    >>> gcra_admit(tat=160.0, now=100.0, cost=1, limit=60, period=60.0) is None
    True
    """
    if cost > limit or cost < 0 or limit <= 0:
        return None
    new_tat = (tat if tat > now else now) + cost * (period / limit)
    return new_tat if new_tat - now - period <= EPSILON_S else None


def gcra_check(tat: float, now: float, cost: int, limit: int, period: float) -> GcraResult:
    """Decide whether ``cost`` units fit now; pure, the caller stores ``new_tat``.

    A ``cost`` above ``limit`` can never fit: it is refused with
    ``retry_after = math.inf``.

    >>> gcra_check(tat=160.0, now=100.0, cost=1, limit=60, period=60.0).retry_after
    1.0
    """
    if cost < 0:
        raise ValueError(f"cost must not be negative, got {cost}")
    interval = emission_interval(limit, period)
    base = max(tat, now)
    if cost > limit:
        remaining, reset_after = gcra_peek(base, now, limit, period)
        return GcraResult(False, base, math.inf, remaining, reset_after)
    new_tat = gcra_admit(tat, now, cost, limit, period)
    if new_tat is not None:
        remaining, reset_after = gcra_peek(new_tat, now, limit, period)
        return GcraResult(True, new_tat, 0.0, remaining, reset_after)
    remaining, reset_after = gcra_peek(base, now, limit, period)
    return GcraResult(False, base, base + cost * interval - now - period, remaining, reset_after)


def gcra_refund(tat: float, now: float, amount: int, limit: int, period: float) -> float:
    """The TAT after giving back ``amount`` units; never below ``now``.

    >>> gcra_refund(tat=160.0, now=100.0, amount=10, limit=60, period=60.0)
    150.0
    >>> gcra_refund(tat=105.0, now=100.0, amount=10, limit=60, period=60.0)
    100.0
    """
    if amount <= 0 or tat <= now:
        return tat
    return max(tat - amount * emission_interval(limit, period), now)
