"""The benchmark cannot rot: ``bench/run --smoke`` runs end to end and prints every row.

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

ROOT = Path(__file__).resolve().parents[2]
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
        timeout=60,
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
