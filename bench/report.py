"""The benchmark's one table (markdown), its ratios against the bare proxy, and the targets.

>>> row = Row("bare proxy", rps=10000.0, p50_ms=0.2, p99_ms=0.4, ttfb_ms=0.3,
...           cpu_us=95.0, peak_rss_mib=40.0, errors=0)
>>> "bare proxy" in render([row], direct=None, bare=row, notes=[])
True
"""

from __future__ import annotations

import math
import os
import platform
from dataclasses import dataclass


@dataclass
class Row:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    ttfb_ms: float
    cpu_us: float  # CPU time of the server per request at 32 connections
    peak_rss_mib: float
    errors: int


def _num(value: float, digits: int = 0) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.{digits}f}"


def _ratio(value: float, base: float | None) -> str:
    if base is None or not base or math.isnan(value) or math.isnan(base):
        return ""
    return f"{value / base:.2f}x"


def _added(value: float, base: float | None) -> str:
    if base is None or math.isnan(value) or math.isnan(base):
        return ""
    return f"{value - base:+.3f}"


def render(rows: list[Row], *, direct: Row | None, bare: Row | None, notes: list[str]) -> str:
    """The markdown table, ratios and added latencies against the same run's rows."""
    head = (
        "| target | req/s @32 conns | vs bare | p50 ms @1 conn | p99 ms @1 conn | "
        "added p50 ms | added p99 ms | stream TTFB p50 ms | added TTFB ms | "
        "CPU µs/req | CPU vs bare | peak RSS MiB | errors |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for row in rows:
        is_direct = direct is not None and row is direct
        lines.append(
            "| "
            + " | ".join(
                [
                    row.name,
                    _num(row.rps),
                    _ratio(row.rps, bare.rps if bare else None),
                    _num(row.p50_ms, 3),
                    _num(row.p99_ms, 3),
                    "" if is_direct else _added(row.p50_ms, direct.p50_ms if direct else None),
                    "" if is_direct else _added(row.p99_ms, direct.p99_ms if direct else None),
                    _num(row.ttfb_ms, 3),
                    "" if is_direct else _added(row.ttfb_ms, direct.ttfb_ms if direct else None),
                    _num(row.cpu_us, 1),
                    _ratio(row.cpu_us, bare.cpu_us if bare else None),
                    _num(row.peak_rss_mib, 1),
                    str(row.errors),
                ]
            )
            + " |"
        )
    out = "\n".join(lines) + "\n"
    if notes:
        out += "\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    return out


def targets(rows: dict[str, Row]) -> list[str]:
    """Each of issue 8's targets that this run can judge, with its figure and verdict."""
    tg, bare, direct = rows.get("teamgate"), rows.get("bare proxy"), rows.get("direct")
    litellm = rows.get("LiteLLM")
    out: list[str] = []

    def judge(label: str, value: float, limit: float, higher_is_better: bool, unit: str) -> None:
        ok = value >= limit if higher_is_better else value <= limit
        sign = ">=" if higher_is_better else "<="
        verdict = "holds" if ok else "MISSED"
        out.append(f"{label}: {value:.3f}{unit} (target {sign} {limit}{unit}) — {verdict}")

    if tg and bare:
        judge("throughput vs bare proxy", tg.rps / bare.rps, 0.5, True, "x")
    if tg and direct:
        judge("added p50 latency", tg.p50_ms - direct.p50_ms, 0.3, False, " ms")
        judge("added p99 latency", tg.p99_ms - direct.p99_ms, 1.0, False, " ms")
        judge("added stream TTFB", tg.ttfb_ms - direct.ttfb_ms, 0.5, False, " ms")
    if tg and litellm and litellm.rps:
        judge("throughput vs LiteLLM", tg.rps / litellm.rps, 30, True, "x")
    return out


def machine() -> str:
    model = ""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({model or platform.machine()}), Python {platform.python_version()}"
    )
