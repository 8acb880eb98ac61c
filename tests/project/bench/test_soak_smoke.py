"""A 5-second run of ``bench/soak.py``: mixed faults, SIGTERM, and the books reconcile."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[3]


def test_a_short_soak_reconciles(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "soak.py"),
            *("--duration", "5", "--concurrency", "8", "--rss-every", "1"),
            *("--folder", str(tmp_path), "--json"),
        ],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    result = orjson.loads(done.stdout)
    assert result["reconciled"] and result["problems"] == [], result["problems"]
    assert result["gateway_exit"] == 0
    assert result["by_status"].get("200", 0) > 0 and len(result["by_status"]) > 1, result
    assert result["ledger_records"] == result["requests"] + 3  # + the calibration requests
