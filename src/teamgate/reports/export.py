"""``teamgate report export``: every ledger record of a range, as CSV or JSON Lines.

Records are read a page at a time (keyset paging in the store), written as
they come, with a progress bar on a terminal. Money stays integer picodollars.

>>> # n = await export_records(store, start, end, out, "csv", progress)
"""

from __future__ import annotations

import dataclasses
from typing import Protocol, TextIO

import orjson

from teamgate.ledger.records import UsageRecord
from teamgate.reports.escape import SafeCsvWriter
from teamgate.reports.progress import ProgressBar

COLUMNS = tuple(f.name for f in dataclasses.fields(UsageRecord))


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
            if writer is not None:
                writer.writerow(dataclasses.astuple(record))
            else:
                out.write(orjson.dumps(record).decode() + "\n")
        written += len(page)
        if progress is not None:
            progress.advance(len(page))
    if progress is not None:
        progress.done()
    return written
