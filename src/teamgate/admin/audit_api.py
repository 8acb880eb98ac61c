"""``GET /admin/audit``: the audit trail, newest first, in pages.

Query: ``since`` (unix seconds, a date, an ISO date-time, or a duration back
from now such as ``24h`` or ``7d``), ``limit`` (1-1000, default 100) and
``before`` (the ``next_before`` of the previous page).

>>> parse_since("2d", "UTC", now=200_000.0)
27200.0
"""

from __future__ import annotations

import time

from teamgate.admin.context import AdminRequest, Reply
from teamgate.auth.keys import parse_duration
from teamgate.http.errors import InvalidRequest
from teamgate.reports.periods import parse_instant

MAX_PAGE = 1000


def parse_since(text: str, tz: str, *, now: float | None = None) -> float:
    """Unix seconds from a duration back from ``now`` or an instant; ValueError otherwise."""
    text = text.strip()
    if text and text[-1] in "smhdw" and text[:-1].isdigit():
        return (time.time() if now is None else now) - parse_duration(text)
    return parse_instant(text, tz)


def _int(req: AdminRequest, name: str, default: int | None, low: int, high: int) -> int | None:
    text = req.text(name)
    if text is None or text == "":
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise InvalidRequest(
            f"`{name}` must be an integer from {low} to {high}", code="invalid_parameter"
        )
    return int(text)


async def get_audit(req: AdminRequest) -> Reply:
    store = req.gw.store
    assert store is not None
    since = 0.0
    text = req.text("since")
    if text:
        try:
            since = parse_since(text, req.gw.settings.org.timezone)
        except (ValueError, OverflowError) as exc:
            raise InvalidRequest(f"`since`: {exc}", code="invalid_parameter") from None
    limit = _int(req, "limit", 100, 1, MAX_PAGE) or 100
    before = _int(req, "before", None, 1, 2**62)
    entries = await store.audit_entries(since=since, before_id=before, limit=limit)
    next_before = entries[-1].id if len(entries) == limit else None
    return Reply(200, {"entries": [e.as_json() for e in entries], "next_before": next_before})
