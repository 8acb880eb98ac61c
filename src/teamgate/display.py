"""How figures are written for people: one money, one percent, one time format.

Every table, message and banner of the CLI, the reports and the budget refusals
uses these, so one figure reads the same everywhere. Machine formats (JSON, CSV)
carry exact values instead: integer picodollars, exact decimal dollar strings,
ISO 8601 times (:func:`iso_time`).

Money: dollars with thousands separators and cents; an amount below a cent is
shown with enough decimals to be non-zero (three significant digits), so a small
spend never reads ``$0.00`` next to a bar that is not empty.

>>> money(1_234_567_890_000_000_000), money(0), money(98_000_000), money(-5 * 10**11)
('$1,234,567.89', '$0.00', '$0.000098', '-$0.50')
>>> money(80_000), money(4_999_999_999), money(1)
('$0.00000008', '$0.005', '$0.000000000001')
>>> percent(163, 1000), percent(2, 3), percent(9999, 10000), percent(5, 0)
('16.3%', '66.6%', '99.9%', '-')
>>> when(1_795_000_000.0, "UTC"), when(1_795_000_000.0, "America/New_York")
('2026-11-18T11:06Z', '2026-11-18T06:06-05:00')
>>> iso_time(1_795_000_000.25)
'2026-11-18T11:06:40Z'
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

PICO_PER_USD = 10**12
_CENT = PICO_PER_USD // 100


def money(pico: int) -> str:
    """Picodollars for people: ``$1,234.57``; sub-cent amounts non-zero (``$0.000098``)."""
    sign = "-" if pico < 0 else ""
    amount = abs(pico)
    places = 2
    if 0 < amount < _CENT:
        # three significant digits (then trailing zeros dropped)
        places = min(12 - len(str(amount)) + 3, 12)
    value = (Decimal(amount) / PICO_PER_USD).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    if value.is_zero():
        sign = ""
    text = f"{value:,.{places}f}"
    if places > 2:
        text = text.rstrip("0")  # sub-cent: its significant digits, no trailing zeros
    return f"{sign}${text}"


def money_decimal(amount: Decimal | None) -> str:
    """A configured dollar amount (a budget) as :func:`money` writes it; ``-`` for none."""
    if amount is None:
        return "-"
    return money(int(amount * PICO_PER_USD))


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
