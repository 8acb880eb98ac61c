"""Budget periods: calendar months in the organization's timezone.

>>> p = month_of(1793491200.0, "UTC")  # 2026-11-01 00:00 UTC
>>> p.key, p.reset_text()
('2026-11', '2026-12-01 00:00 UTC')
>>> p.contains(p.end_ts)
False
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class BudgetPeriod:
    """One budget month: its key (``"2026-11"``) and its bounds ``[start_ts, end_ts)``.

    The bounds are unix seconds of local midnight on the first of the month (and of
    the next month) in ``timezone``.
    """

    key: str
    start_ts: float
    end_ts: float
    timezone: str

    def contains(self, ts: float) -> bool:
        return self.start_ts <= ts < self.end_ts

    def reset_text(self) -> str:
        """When the next period starts, for messages: ``"2026-12-01 00:00 UTC"``."""
        local = datetime.fromtimestamp(self.end_ts, ZoneInfo(self.timezone))
        return f"{local:%Y-%m-%d %H:%M} {self.timezone}"


def month_of(ts: float, tz: str) -> BudgetPeriod:
    """The calendar month of ``tz`` that contains the instant ``ts`` (unix seconds)."""
    local = datetime.fromtimestamp(ts, ZoneInfo(tz))
    return period_named(f"{local.year:04d}-{local.month:02d}", tz)


def period_named(key: str, tz: str) -> BudgetPeriod:
    """The period whose key is ``key`` (``"YYYY-MM"``), e.g. for reports of past months.

    >>> period_named("2026-12", "UTC").reset_text()
    '2027-01-01 00:00 UTC'
    """
    year_text, _, month_text = key.partition("-")
    year, month = int(year_text), int(month_text)
    if not 1 <= month <= 12:
        raise ValueError(f"not a budget period: {key!r}")
    zone = ZoneInfo(tz)
    start = datetime(year, month, 1, tzinfo=zone)
    end = (
        datetime(year + 1, 1, 1, tzinfo=zone)
        if month == 12
        else datetime(year, month + 1, 1, tzinfo=zone)
    )
    return BudgetPeriod(
        key=f"{year:04d}-{month:02d}",
        start_ts=start.timestamp(),
        end_ts=end.timestamp(),
        timezone=tz,
    )
