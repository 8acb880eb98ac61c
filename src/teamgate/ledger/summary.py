"""Grouped usage sums: what reports, the admin API and the dashboard read from the store.

:meth:`Store.usage_summary` answers "per team and model, how many requests,
tokens and picodollars between two instants" with the store doing the
grouping (SQL ``GROUP BY`` in SQLite), so no record is ever loaded into Python.

>>> g = UsageGroup({"team": "chatbot"}, requests=3, cost_pusd=10**12)
>>> g["team"], g.requests, g.cost_pusd
('chatbot', 3, 1000000000000)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypedDict

from teamgate.ledger.attribution import is_attribution_dimension

GroupBy = Sequence[str]  # the dimensions a summary is grouped by, in order


class SummaryOptions(TypedDict, total=False):
    """``usage_summary``'s keyword options: the timezone of ``day``, one team only."""

    tz: str  # default "UTC"
    team: str | None  # default None: every team


# Dimensions a summary may be grouped by. ``day`` is the calendar day (YYYY-MM-DD)
# in the timezone passed to ``usage_summary``; ``model`` is the model served, or the
# model requested when the request never reached Groq; ``key`` is the client key's name.
# Besides these, ``user`` (the end user) and ``tag:KEY`` (the value of one feature tag,
# e.g. ``tag:feature``) group by attribution (ledger/attribution.py); a record without
# an end user or without that tag is in the group "".
SUMMARY_DIMENSIONS: tuple[str, ...] = (
    "team",
    "environment",
    "purpose",
    "model",
    "key",
    "day",
    "refusal",
    "status",
)


def check_dimensions(group_by: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The dimensions, validated (known, no repeats); ValueError names the bad one.

    >>> check_dimensions(["team", "day", "tag:feature"])
    ('team', 'day', 'tag:feature')
    """
    seen: list[str] = []
    for dim in group_by:
        if dim not in SUMMARY_DIMENSIONS and not is_attribution_dimension(dim):
            raise ValueError(
                f"unknown group_by dimension {dim!r}; expected one of "
                + ", ".join(SUMMARY_DIMENSIONS)
                + ", user, tag:KEY"
            )
        if dim in seen:
            raise ValueError(f"group_by dimension {dim!r} given twice")
        seen.append(dim)
    return tuple(seen)


@dataclass(frozen=True, slots=True)
class UsageGroup:
    """Sums over the records of one group. ``dims`` maps each group_by dimension to its value.

    ``refusals`` counts records teamgate refused (``refusal`` set); ``errors`` counts
    records forwarded that failed (status >= 400, no refusal). Money in picodollars.
    """

    dims: dict[str, str] = field(default_factory=dict)
    requests: int = 0
    refusals: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_pusd: int = 0

    def __getitem__(self, dim: str) -> str:
        return self.dims[dim]
