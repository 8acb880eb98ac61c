"""The memory gate: a short ``bench/run memory`` that fails on a per-request growth slope.

A leak is a slope: RSS that grows with the number of requests served. Each
case drives a real ``teamgate serve`` with the mixed load of ``bench/mix.py``
(non-streamed, streamed and refused requests at once), skips a warm-up (pools,
caches and allocator arenas fill up first), fits a line through the RSS
samples of the rest and fails above ``GATE`` bytes per request.

The gate is checked against itself: a gateway that keeps every request's body
(``bench/leaky_serve.py``) must fail it. Measured on the development machine
(2 cores): healthy runs +3 to +13 bytes per request on both backends; the
deliberate leak +174 to +297 with the mix's ~200-byte bodies (so the test pads
them to ~1.1 kB, and the leak stands far above the gate).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
GATE = 100  # bytes per request

# (backend, requests, warm-up): the shared path's pools and prepared statements
# take longer to settle than SQLite's.
CASES = {
    "sqlite": ("sqlite", 35_000, 15_000),
    "postgres+redis": ("shared", 75_000, 45_000),
}


def run_memory(
    tmp_path: Path, backend: str, requests: int, warm_up: int, *extra: str
) -> tuple[int, str, float]:
    out = tmp_path / "memory.md"
    command = [str(ROOT / "bench" / "run"), "memory", "--backend", backend]
    command += ["--requests", str(requests), "--warm-up", str(warm_up)]
    command += ["--burst-seconds", "1", "--gate", str(GATE), "--out", str(out), *extra]
    env = {**os.environ, "PYTHON": sys.executable, "BENCH_NO_INSTALL": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    text = out.read_text() if out.exists() else ""
    slope = re.search(r"Slope: ([+-][\d.]+) bytes per request", text)
    assert slope, done.stdout + done.stderr
    return done.returncode, text, float(slope.group(1))


@pytest.mark.parametrize("case", list(CASES))
def test_a_healthy_gateway_passes_the_gate(tmp_path: Path, case: str) -> None:
    code, text, slope = run_memory(tmp_path, *CASES[case])
    assert code == 0 and slope <= GATE, text
    assert "| requests | RSS MiB" in text and "Growth after warm-up" in text


def test_a_gateway_that_keeps_every_body_fails_the_gate(tmp_path: Path) -> None:
    # Bodies of ~1.1 kB: a leak of that size per request stands far above the noise.
    code, text, slope = run_memory(tmp_path, *CASES["sqlite"], "--leak", "--pad", "1000")
    assert code == 1, text
    assert slope > 5 * GATE, text  # clearly above the gate, not by a hair
    assert "FAILED" in text
