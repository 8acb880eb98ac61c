"""Month-end projection at the current pace, in integer picodollars.

The one run-rate method of teamgate, shared with the ``budget_forecast`` alert
(:mod:`teamgate.budget.forecast`, where it lives and is described).

>>> p = project(spent=50, budget=100, start=0, end=100, now=25)
>>> p.projected_pusd, p.runs_out_at
(200, 50)
>>> project(spent=10, budget=100, start=0, end=100, now=50).runs_out_at is None
True
"""

from __future__ import annotations

from teamgate.budget.forecast import Projection, project

__all__ = ["Projection", "project"]
