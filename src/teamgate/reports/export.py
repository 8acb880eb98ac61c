"""``teamgate report export``: every ledger record of a range, as CSV or JSON Lines.

Records are read a page at a time (keyset paging in the store), written as
they come, with a progress bar on a terminal. Each row (:func:`export_row`) has
the record's fields with ``ts`` as ISO 8601 in UTC to the millisecond, booleans
as ``true``/``false``, and the cost both as integer picodollars (``cost_pusd``)
and exact dollars (``cost_usd``), so a spreadsheet sums it without conversion.

>>> # n = await export_records(store, start, end, out, "csv", progress)
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any, Protocol, TextIO

import orjson

from teamgate.ledger.records import UsageRecord
from teamgate.pricing.money import exact_usd
from teamgate.reports.escape import SafeCsvWriter
from teamgate.text.progress import ProgressBar

_FIELDS = tuple(f.name for f in dataclasses.fields(UsageRecord))
COLUMNS = tuple(c for f in _FIELDS for c in ((f, "cost_usd") if f == "cost_pusd" else (f,)))


def iso_ms(ts: float) -> str:
    """``2026-11-18T11:06:40.250Z``: an instant in UTC to the millisecond.

    >>> iso_ms(1_795_000_000.25)
    '2026-11-18T11:06:40.250Z'
    """
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def export_row(record: UsageRecord) -> dict[str, Any]:
    """One record as exported: ISO time, exact dollars beside picodollars."""
    row = dataclasses.asdict(record)
    row["ts"] = iso_ms(record.ts)
    row["cost_usd"] = exact_usd(record.cost_pusd)
    row["latency_ms"] = round(record.latency_ms, 3)
    return {c: row[c] for c in COLUMNS}


def _csv_cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


class PagedSource(Protocol):
    async def usage_page(
        self, start: float, end: float, after: int = 0, limit: int = 10_000
    ) -> tuple[list[UsageRecord], int]: ...

    async def count_usage(self, start: float, end: float) -> int: ...


async def export_records(
    store: PagedSource,
    start: float,
    end: float,
    out: TextIO,
    fmt: str,
    *,
    progress: ProgressBar | None = None,
    page_size: int = 10_000,
) -> int:
    """Write the records of [start, end) to ``out``; returns how many were written."""
    if fmt not in ("csv", "jsonl"):
        raise ValueError(f"export format must be csv or jsonl, got {fmt!r}")
    writer = SafeCsvWriter(out) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(COLUMNS)
    cursor, written = 0, 0
    while True:
        page, cursor = await store.usage_page(start, end, cursor, page_size)
        if not page:
            break
        for record in page:
            row = export_row(record)
            if writer is not None:
                writer.writerow([_csv_cell(v) for v in row.values()])
            else:
                out.write(orjson.dumps(row).decode() + "\n")
        written += len(page)
        if progress is not None:
            progress.advance(len(page))
    if progress is not None:
        progress.done()
    return written
