from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from teamgate.budget.period import month_of, period_named

from .conftest import DEC_1_2026_UTC, NOV_1_2026_UTC


def test_utc_month_bounds_and_reset_text() -> None:
    p = month_of(NOV_1_2026_UTC + 10 * 86400, "UTC")
    assert p.key == "2026-11"
    assert (p.start_ts, p.end_ts) == (NOV_1_2026_UTC, DEC_1_2026_UTC)
    assert p.reset_text() == "2026-12-01 00:00 UTC"


def test_month_boundary_is_half_open() -> None:
    assert month_of(DEC_1_2026_UTC - 0.001, "UTC").key == "2026-11"
    assert month_of(DEC_1_2026_UTC, "UTC").key == "2026-12"


def test_org_timezone_decides_the_month() -> None:
    # 2026-11-01 00:00 UTC is still October 31st in New York.
    ny = month_of(NOV_1_2026_UTC, "America/New_York")
    assert ny.key == "2026-10"
    assert ny.end_ts == datetime(2026, 11, 1, tzinfo=ZoneInfo("America/New_York")).timestamp()
    assert ny.reset_text() == "2026-11-01 00:00 America/New_York"
    # ...and already November in Tokyo a few hours before UTC midnight.
    assert month_of(NOV_1_2026_UTC - 3600, "Asia/Tokyo").key == "2026-11"


def test_december_rolls_into_next_year() -> None:
    p = period_named("2026-12", "Europe/Berlin")
    assert p.reset_text() == "2027-01-01 00:00 Europe/Berlin"
    assert month_of(p.end_ts, "Europe/Berlin").key == "2027-01"


def test_bad_period_key() -> None:
    with pytest.raises(ValueError):
        period_named("2026-13", "UTC")
