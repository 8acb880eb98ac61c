"""Report periods: ISO weeks (``2026-W47``) and calendar months (``2026-11``) in a timezone.

>>> w = week_named("2026-W47", "UTC")
>>> w.label, w.previous().label, w.end_ts - w.start_ts
('2026-W47', '2026-W46', 604800.0)
>>> month_named("2026-01", "UTC").previous().label
'2025-12'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

PeriodKind = Literal["weekly", "monthly"]

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def _midnight(day: date, tz: str) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz)).timestamp()


@dataclass(frozen=True, slots=True)
class ReportPeriod:
    """One report period ``[start_ts, end_ts)``: its kind, label and first day (local)."""

    kind: PeriodKind
    label: str
    first_day: date
    start_ts: float
    end_ts: float
    timezone: str

    def previous(self) -> ReportPeriod:
        """The period just before this one, of the same kind."""
        if self.kind == "weekly":
            year, week, _ = (self.first_day - timedelta(days=7)).isocalendar()
            return week_named(f"{year:04d}-W{week:02d}", self.timezone)
        prev = self.first_day - timedelta(days=1)
        return month_named(f"{prev.year:04d}-{prev.month:02d}", self.timezone)


def week_named(label: str, tz: str) -> ReportPeriod:
    """The ISO week ``YYYY-Www`` (Monday to Monday, local midnight); ValueError if not one."""
    m = _WEEK.match(label.strip())
    if not m:
        raise ValueError(f"a week is written like 2026-W47, got {label!r}")
    try:
        first = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    except ValueError:
        raise ValueError(f"no such ISO week: {label!r}") from None
    return ReportPeriod(
        "weekly",
        f"{m.group(1)}-W{m.group(2)}",
        first,
        _midnight(first, tz),
        _midnight(first + timedelta(days=7), tz),
        tz,
    )


def month_named(label: str, tz: str) -> ReportPeriod:
    """The calendar month ``YYYY-MM`` (local midnight on the 1st); ValueError if not one."""
    m = _MONTH.match(label.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"a month is written like 2026-11, got {label!r}")
    year, month = int(m.group(1)), int(m.group(2))
    first = date(year, month, 1)
    after = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return ReportPeriod(
        "monthly", f"{year:04d}-{month:02d}", first, _midnight(first, tz), _midnight(after, tz), tz
    )


def default_week(now: float, tz: str) -> ReportPeriod:
    """The last complete ISO week before ``now`` (what a Monday-morning report is about)."""
    today = datetime.fromtimestamp(now, ZoneInfo(tz)).date()
    year, week, _ = (today - timedelta(days=7)).isocalendar()
    return week_named(f"{year:04d}-W{week:02d}", tz)


def default_month(now: float, tz: str) -> ReportPeriod:
    """The month containing ``now`` (month to date: budgets are monthly)."""
    today = datetime.fromtimestamp(now, ZoneInfo(tz)).date()
    return month_named(f"{today.year:04d}-{today.month:02d}", tz)


def parse_instant(text: str, tz: str) -> float:
    """Unix seconds from ``1793491200``, ``2026-11-01`` (local midnight) or an ISO datetime
    (without an offset: local time in ``tz``); ValueError otherwise.

    >>> parse_instant("2026-11-01", "UTC"), parse_instant("2026-11-01T01:00:00+01:00", "UTC")
    (1793491200.0, 1793491200.0)
    """
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        if len(text) == 10:
            return _midnight(date.fromisoformat(text), tz)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"expected unix seconds, YYYY-MM-DD or an ISO 8601 date-time, got {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return moment.timestamp()
