"""Groq's ``x-ratelimit-*`` headers: durations in Groq's format, and the header dict.

Groq writes durations like Go's ``time.Duration``: ``2m59.56s``, ``7.66s``,
``6m0s``, ``1h0m0s``, ``240ms``, ``0s``. teamgate rounds *up* to 10 ms, so a
reset it announces is never earlier than the real one.

>>> format_reset(179.555)
'2m59.56s'
>>> parse_reset("2m59.56s")
179.56
"""

from __future__ import annotations

import math
import re

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")
_FLOAT_NOISE_S = 1e-6  # wall-clock float rounding (as gcra.EPSILON_S): 86.40000009 is 86.4
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def format_reset(seconds: float) -> str:
    """Seconds as Groq's duration string, rounded up to 10 ms.

    >>> [format_reset(s) for s in (0, 0.24, 7.66, 60, 86400)]
    ['0s', '240ms', '7.66s', '1m0s', '24h0m0s']
    """
    if not seconds > 0:
        return "0s"
    if math.isinf(seconds):
        seconds = 10**9
    centis = math.ceil((seconds - _FLOAT_NOISE_S) * 100)
    if centis < 100:
        return f"{centis * 10}ms"
    hours, centis = divmod(centis, 360_000)
    minutes, centis = divmod(centis, 6_000)
    whole, frac = divmod(centis, 100)
    sec = f"{whole}.{frac:02d}".rstrip("0").rstrip(".") if frac else str(whole)
    if hours:
        return f"{hours}h{minutes}m{sec}s"
    if minutes:
        return f"{minutes}m{sec}s"
    return f"{sec}s"


def parse_reset(text: str) -> float | None:
    """Groq's duration string (or plain seconds) as seconds; None if unreadable.

    >>> parse_reset("1h2m3.5s"), parse_reset("240ms"), parse_reset("7"), parse_reset("soon")
    (3723.5, 0.24, 7.0, None)
    """
    text = text.strip()
    if not text:
        return None
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    total = 0.0
    pos = 0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text):
        return None
    return round(total, 9)
