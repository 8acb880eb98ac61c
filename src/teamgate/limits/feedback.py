"""Reading Groq's ``x-ratelimit-*`` headers to slow down before Groq refuses.

When Groq says a model's remaining requests (RPD) are 0, or remaining tokens
(TPM) are below :data:`TOKEN_MARGIN` of the limit, :func:`upstream_hold_s`
says how long to hold new admissions for that model: until a little capacity
is back. Groq's ``reset-*`` counts down to *full*, and its limits replenish
continuously, so the time to win back ``k`` units is ``reset * k / used``
(``used = limit - remaining``); without a limit header the whole reset is used.

>>> upstream_hold_s({"x-ratelimit-remaining-requests": "0",
...                  "x-ratelimit-limit-requests": "1000",
...                  "x-ratelimit-reset-requests": "1m26.4s"})
0.0864
>>> upstream_hold_s({"x-ratelimit-remaining-tokens": "5000",
...                  "x-ratelimit-reset-tokens": "7.66s"})
0.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from multidict import CIMultiDict, CIMultiDictProxy

from teamgate.limits.headers import parse_reset

TOKEN_MARGIN = 0.01
"""Hold when fewer than this fraction of the token limit is left at Groq."""

TOKEN_TARGET = 0.02
"""Hold until about this fraction of the token limit is back."""


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


def _margins(limit: int | None, kind: str) -> tuple[int, int]:
    if kind == "requests" or limit is None:
        return 0, 1
    return math.floor(limit * TOKEN_MARGIN), max(1, math.ceil(limit * TOKEN_TARGET))


def _hold(limit: int | None, remaining: int | None, reset: float | None, kind: str) -> float:
    if remaining is None or reset is None or reset <= 0:
        return 0.0
    margin, target = _margins(limit, kind)
    if remaining > margin:
        return 0.0
    if limit is None or limit <= remaining:
        return reset
    need = max(target - remaining, 1)
    return min(reset, reset * need / (limit - remaining))


# Per kind: its name and the names of its three headers.
_KINDS = tuple(
    (
        kind,
        f"x-ratelimit-remaining-{kind}",
        f"x-ratelimit-limit-{kind}",
        f"x-ratelimit-reset-{kind}",
    )
    for kind in ("requests", "tokens")
)


def upstream_hold_s(headers: Mapping[str, str]) -> float:
    """Seconds to hold new admissions of the model these headers came with (0: none)."""
    # aiohttp's headers are case-insensitive already; only a plain mapping is lowered.
    lower: Mapping[str, str]
    if isinstance(headers, CIMultiDictProxy | CIMultiDict):
        lower = headers
    else:
        lower = {k.lower(): v for k, v in headers.items()}
    holds = [0.0]
    for kind, remaining_name, limit_name, reset_name in _KINDS:
        remaining = _int(lower.get(remaining_name))
        if remaining is None:
            continue
        limit = _int(lower.get(limit_name))
        if remaining > (0 if kind == "requests" or limit is None else limit * TOKEN_MARGIN):
            continue  # plenty left (above _margins' margin): no need to read the reset
        reset_text = lower.get(reset_name)
        holds.append(
            _hold(
                limit,
                remaining,
                parse_reset(reset_text) if reset_text is not None else None,
                kind,
            )
        )
    return max(holds)
