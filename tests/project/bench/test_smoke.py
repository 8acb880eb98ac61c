"""The benchmark cannot rot: ``bench/run --smoke`` runs end to end and prints every row
(with nginx, the streaming benchmark's rows too: ``bench/run streams --smoke``).

It asserts nothing about speed (machines are shared and noisy), only that each
target answered every request and that the table has all its rows and columns.
nginx and wrk are used when installed; otherwise the simulator and the Python
load client stand in.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
ROWS = ("direct", "bare proxy", "teamgate")


@pytest.mark.parametrize("fallbacks", [False, True], ids=["native", "fallbacks"])
def test_bench_smoke_prints_a_full_table(tmp_path: Path, fallbacks: bool) -> None:
    """``fallbacks``: the simulator and the Python client, as on a machine without nginx/wrk."""
    out = tmp_path / "latest.md"
    env = {**os.environ, "PYTHON": sys.executable}
    extra = ["--no-native"] if fallbacks else []
    done = subprocess.run(
        [str(ROOT / "bench" / "run"), "--smoke", "--out", str(out), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    table = out.read_text()
    assert table in done.stdout
    rows = {
        line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ")
    }
    assert set(ROWS) <= set(rows)
    for name in ROWS:
        cells = [c.strip() for c in rows[name].strip().strip("|").split("|")]
        assert len(cells) == 13, rows[name]
        assert cells[-1] == "0", f"{name} had failed requests: {rows[name]}"
        assert float(cells[1].replace(",", "")) > 0, rows[name]  # it served requests
    assert "throughput vs bare proxy" in table
    streams = tmp_path / "streams-smoke.md"
    if fallbacks:
        assert not streams.exists()  # the streaming rows need nginx's pacing
    else:
        check_stream_table(streams.read_text())


STREAM_ROWS = ("direct", "bare proxy", "teamgate")


def check_stream_table(table: str) -> None:
    """The streaming rows: every stream relayed with no error, and teamgate's ledger holds
    one exact record per stream."""
    fast = [line for line in table.splitlines() if line.startswith("| 16 |")]
    slow = [line for line in table.splitlines() if line.startswith("| 40 |")]
    for lines, columns in ((fast, 16), (slow, 7)):
        cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines]
        assert [c[1] for c in cells] == list(STREAM_ROWS), table
        for row in cells:
            assert len(row) == columns, row
            assert row[-1] == "0", f"{row[1]} had failed streams: {row}"
    for row in ([c.strip() for c in line.strip().strip("|").split("|")] for line in fast):
        assert float(row[2].replace(",", "")) > 0, row  # chunks relayed
        assert int(row[14].replace(",", "")) > 0, row  # streams completed
    ledger = [line for line in table.splitlines() if "ledger:" in line]
    assert len(ledger) == 2, table
    assert all(line.endswith("— holds") for line in ledger), table
    assert "CPU per relayed chunk vs bare proxy" in table


def test_stream_table_check_fails_on_an_error() -> None:
    """The check above can fail: a row with one failed stream is caught."""
    rows = [
        f"| {n} | {name} | 10 | 1 | | 3 | 4 | | | | 6 | 15 | | | 5 | 0 |"
        if n == 16
        else f"| {n} | {name} | {n} | 15 | 1 | 9 | 0 |"
        for n in (16, 40)
        for name in STREAM_ROWS
    ]
    ledger = ["- ledger: 5 streams, 5 records, each exact — holds"] * 2
    good = "\n".join([*rows, *ledger, "- CPU per relayed chunk vs bare proxy: 1x"])
    check_stream_table(good)
    bad = good.replace("| 16 | teamgate | 10 | 1 | | 3 | 4 | | | | 6 | 15 | | | 5 | 0 |", "")
    bad += "\n| 16 | teamgate | 10 | 1 | | 3 | 4 | | | | 6 | 15 | | | 5 | 1 |"
    with pytest.raises(AssertionError, match="failed streams"):
        check_stream_table(bad)
