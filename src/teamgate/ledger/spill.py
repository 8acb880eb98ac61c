"""Usage records the store would not take at shutdown: spilled to a file, taken back at start.

When the store keeps failing (disk full, database gone) through a graceful
stop, the ledger writer still holds records in memory. Rather than lose
them, the gateway writes them as JSON lines to
``<database directory>/teamgate-unwritten-<unix time>.jsonl`` (a small file
that may fit where SQLite's next page did not; otherwise the records are
logged as lost, by count) and logs an ERROR naming the file. The next start
appends every such file to the store before loading the month's spend, then
renames it ``*.imported``.

>>> import tempfile, asyncio
>>> from pathlib import Path
>>> folder = Path(tempfile.mkdtemp())
>>> path = write_spill(folder, [], now=1.0)
>>> path.name, read_spill(path)
('teamgate-unwritten-1000.jsonl', [])
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import orjson

from teamgate.ledger.file_modes import open_new_owner_only
from teamgate.ledger.records import UsageRecord
from teamgate.ledger.store import Store

log = logging.getLogger("teamgate.ledger")

SPILL_GLOB = "teamgate-unwritten-*.jsonl"


def spill_folder(storage_url: str) -> Path:
    """Where spill files go: the SQLite database's folder, else the working directory."""
    if storage_url.startswith("sqlite:///") and ":memory:" not in storage_url:
        return Path(storage_url.removeprefix("sqlite:///")).parent
    return Path.cwd()


def write_spill(folder: Path, records: Sequence[UsageRecord], *, now: float) -> Path:
    """Write ``records`` as JSON lines to a new spill file in ``folder``; return its path."""
    path = folder / f"teamgate-unwritten-{int(now * 1000)}.jsonl"
    lines = b"".join(orjson.dumps(dataclasses.asdict(r)) + b"\n" for r in records)
    with os.fdopen(open_new_owner_only(path), "wb") as out:  # mode 0600, like the ledger
        out.write(lines)
    return path


def read_spill(path: Path) -> list[UsageRecord]:
    """The records of one spill file."""
    with path.open("rb") as spilled:
        return [UsageRecord(**orjson.loads(line)) for line in spilled if line.strip()]


def spill_files(folder: Path) -> list[Path]:
    """The spill files waiting in ``folder``, oldest first."""
    return sorted(folder.glob(SPILL_GLOB))


def mark_imported(path: Path) -> None:
    path.rename(path.with_suffix(".imported"))


async def import_spills(store: Store, folder: Path) -> int:
    """Append every spill file in ``folder`` to ``store`` (oldest first); the record count."""
    total = 0
    for path in spill_files(folder):
        records = read_spill(path)
        if records:
            await store.append_usage(records)
        mark_imported(path)
        log.warning("imported %d unwritten usage records from %s", len(records), path)
        total += len(records)
    return total
