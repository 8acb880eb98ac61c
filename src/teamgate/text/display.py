"""How figures are written for people: one percent, one time format (money: teamgate.pricing.money).

Every table, message and banner of the CLI, the reports and the budget refusals
uses these (and :func:`teamgate.pricing.money.format_usd`), so one figure reads the same
everywhere. Machine formats (JSON, CSV) carry exact values instead: integer
picodollars, exact decimal dollar strings, ISO 8601 times (:func:`iso_time`).

>>> percent(163, 1000), percent(2, 3), percent(9999, 10000), percent(5, 0)
('16.3%', '66.6%', '99.9%', '-')
>>> when(1_795_000_000.0, "UTC"), when(1_795_000_000.0, "America/New_York")
('2026-11-18T11:06Z', '2026-11-18T06:06-05:00')
>>> iso_time(1_795_000_000.25)
'2026-11-18T11:06:40Z'
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo


def percent(part: int, whole: int | None) -> str:
    """``part`` of ``whole`` to a tenth of a percent, rounded down (99.99 % used is not
    ``100.0%``); ``-`` without a whole."""
    if not whole:
        return "-"
    value = (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_DOWN)
    return f"{value}%"


def when(ts: float | None, tz: str = "UTC") -> str:
    """An instant for tables: ISO 8601 to the minute, with its zone; ``-`` for none."""
    if ts is None:
        return "-"
    local = datetime.fromtimestamp(ts, ZoneInfo(tz))
    text = local.strftime("%Y-%m-%dT%H:%M")
    offset = local.strftime("%z")
    if offset in ("+0000", ""):
        return text + "Z"
    return f"{text}{offset[:3]}:{offset[3:]}"


def iso_time(ts: float | None) -> str | None:
    """An instant for JSON and CSV: ISO 8601 in UTC to the second (``…Z``); None stays None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
