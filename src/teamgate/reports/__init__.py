"""Weekly and monthly spend reports per team, from the ledger's grouped sums.

>>> # period = week_named("2026-W47", "UTC")
>>> # report = await build_report(store, settings, period, by="model")
>>> # print(render(report, "table"))
"""

from teamgate.reports.build import BreakdownLine, Report, TeamLine, build_report
from teamgate.reports.periods import (
    ReportPeriod,
    default_month,
    default_week,
    month_named,
    week_named,
)
from teamgate.reports.render import FORMATS, render

__all__ = [
    "FORMATS",
    "BreakdownLine",
    "Report",
    "ReportPeriod",
    "TeamLine",
    "build_report",
    "default_month",
    "default_week",
    "month_named",
    "render",
    "week_named",
]
