"""The figures behind docs/architecture.md's "kept by hand" decisions.

    .venv/bin/python bench/kept_by_hand.py            # all of them (Redis on 127.0.0.1:6379)

Each figure is the best of several timeit repeats on this machine; rerun it after a change.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import timeit


def import_ms(module: str) -> float:
    """Wall time of ``import module`` in a fresh interpreter, minus an empty one (best of 5)."""

    def run(code: str) -> float:
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            best = min(best, time.perf_counter() - t0)
        return best

    return (run(f"import {module}") - run("pass")) * 1000


def best_us(stmt: str, setup: str, number: int) -> float:
    return min(timeit.repeat(stmt, setup, number=number, repeat=5)) / number * 1e6


def imports() -> None:
    for module in ("teamgate.text.table", "rich.table", "teamgate.config", "pydantic"):
        print(f"import {module}: {import_ms(module):.0f} ms")


def config() -> None:
    setup = (
        "from teamgate.config.loader import load_settings, example_config_path\n"
        "p = example_config_path()"
    )
    print(f"load_settings(example config): {best_us('load_settings(p, env={})', setup, 50):.0f} µs")


METRICS_SETUP = """
from teamgate.observability.metrics import Metrics, render_metrics
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
m = Metrics()
reg = CollectorRegistry()
c = Counter("teamgate_requests", "requests", ("team", "model", "status"), registry=reg)
h = Histogram("teamgate_queue_seconds", "queue", ("team",), registry=reg,
              buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
for t in range(20):
    for model in range(5):
        for status in (200, 429, 500):
            m.requests[(f"team{t}", f"model{model}", status)] = 7
            c.labels(f"team{t}", f"model{model}", str(status)).inc(7)
    h.labels(f"team{t}").observe(0.02)
"""


def metrics() -> None:
    """20 teams x 5 models x 3 statuses = 300 request series (+ 20 histograms for the library)."""
    print(f"render_metrics, 300 series: {best_us('render_metrics(m)', METRICS_SETUP, 200):.0f} µs")
    print(
        "prometheus_client generate_latest, 300 series + 20 histograms: "
        f"{best_us('generate_latest(reg)', METRICS_SETUP, 200):.0f} µs"
    )
    ours = best_us("m.requests[k] += 1", METRICS_SETUP + "k = ('team1', 'model1', 200)", 100000)
    lib = best_us("c.labels('team1', 'model1', '200').inc()", METRICS_SETUP, 100000)
    print(f"hot path, Metrics dict increment: {ours:.3f} µs")
    print(f"hot path, prometheus_client Counter.labels().inc(): {lib:.3f} µs")


async def _redis(n: int) -> None:
    from redis.asyncio import BlockingConnectionPool, Redis

    from teamgate.shared_redis.batching import ScriptBatcher

    # The unbatched alternative: each call checks a connection out of a 32-connection pool.
    pool = BlockingConnectionPool.from_url("redis://127.0.0.1:6379/0", max_connections=32)
    client = Redis(connection_pool=pool)
    source = "return redis.call('INCR', KEYS[1])"
    key = "teamgate-bench-kept-by-hand"
    try:
        plain = client.register_script(source)
        await plain(keys=[key])
        for label, call in (
            ("redis-py Script through the pool", lambda: plain(keys=[key])),
            ("ScriptBatcher(dedicated=True)", None),
        ):
            batcher = None
            if call is None:
                batcher = ScriptBatcher(client, dedicated=True)
                script = batcher.script(source)
                call = lambda: script(keys=[key])  # noqa: B023, E731 - used in this iteration
            best = float("inf")
            for _ in range(5):
                t0 = time.perf_counter()
                await asyncio.gather(*(call() for _ in range(n)))
                best = min(best, time.perf_counter() - t0)
            extra = f" in {batcher.batches} pipelines (all rounds)" if batcher else ""
            print(f"{n} concurrent script calls, {label}: {n / best:,.0f} calls/s{extra}")
            if batcher is not None:
                await batcher.aclose()
    finally:
        await client.delete(key)
        await client.aclose()
        await pool.aclose()


if __name__ == "__main__":
    imports()
    config()
    metrics()
    asyncio.run(_redis(1000))
