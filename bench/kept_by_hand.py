"""The figures behind docs/architecture.md's "kept by hand" decisions.

    .venv/bin/python bench/kept_by_hand.py            # all of them (Redis on 127.0.0.1:6379)
    .venv/bin/python bench/kept_by_hand.py config     # only the config-validation comparison

Each figure is the best of several timeit repeats on this machine; rerun it after a change.
The config comparison validates the ``teams`` section with teamgate's own code and with the
prototypes in bench/config_msgspec.py and bench/config_pydantic.py, and prints each one's
messages for cases of the validation table (tests/support/validation_cases.py).
"""

from __future__ import annotations

import asyncio
import copy
import os
import subprocess
import sys
import time
import timeit
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT)]  # the validation table: tests.support.validation_cases


def import_ms(module: str) -> float:
    """Wall time of ``import module`` in a fresh interpreter, minus an empty one (best of 5)."""
    env = {**os.environ, "PYTHONPATH": str(BENCH)}  # the config prototypes

    def run(code: str) -> float:
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, env=env)
            best = min(best, time.perf_counter() - t0)
        return best

    return (run(f"import {module}") - run("pass")) * 1000


def best_us(stmt: str, setup: str, number: int) -> float:
    return min(timeit.repeat(stmt, setup, number=number, repeat=5)) / number * 1e6


def imports() -> None:
    for module in ("teamgate.text.table", "rich.table"):
        print(f"import {module}: {import_ms(module):.0f} ms")


# --- configuration validation ---------------------------------------------------------------
CONFIG_IMPORTS = (
    "teamgate.config",  # the whole schema, loader, validation, JSON Schema generator
    "msgspec",
    "config_msgspec",  # msgspec and the teams section's Structs
    "pydantic",
    "config_pydantic",  # pydantic and the teams section's models (their validators built)
)
CONFIG_TIMING_SETUP = """
import yaml, config_msgspec, config_pydantic
from teamgate.config.fields import Problems
from teamgate.config.loader import example_config_path, load_settings
from teamgate.config.models import build_catalog, read_pricing
from teamgate.config.teams import read_teams
p = example_config_path()
data = yaml.safe_load(p.read_text())
teams = data["teams"]
pricing, default = read_pricing(Problems(), data.get("pricing"))
catalog = build_catalog(Problems(), pricing, default, data.get("aliases"))
"""
CONFIG_TIMINGS = (
    ("teamgate read_teams (teams section)", "read_teams(Problems(), teams, catalog)"),
    ("msgspec convert (teams section)", "config_msgspec.validate(teams)"),
    ("pydantic validate_python (teams section)", "config_pydantic.validate(teams)"),
    ("teamgate load_settings (whole file, YAML read)", "load_settings(p, env={})"),
)
# Cases of the validation table (tests/support/validation_cases.py) inside the teams section.
CONFIG_CASES = (
    "negative rpm",
    "yes is not a number",
    "fractional concurrency",
    "max tokens missing",
    "on_limit choice",
    "key state choice",
    "typo with hint",
    "negative budget",
    "environment sub-budget above its team's",
    "team name with hyphen",
)


def _got(expected: str) -> str:
    """The bad value an expected message shows (``… got -5``), or ''."""
    _, found, value = expected.rpartition(", got ")
    return value.split(" (")[0] if found else ""


def config() -> None:
    for module in CONFIG_IMPORTS:
        print(f"import {module}: {import_ms(module):.0f} ms")
    sys.path.insert(0, str(BENCH))
    for label, stmt in CONFIG_TIMINGS:
        print(f"{label}: {best_us(stmt, CONFIG_TIMING_SETUP, 200):.0f} µs")

    import config_msgspec
    import config_pydantic
    from tests.support.config_seed import seed_config
    from tests.support.validation_cases import CASES

    from teamgate.config.errors import ConfigError
    from teamgate.config.loader import parse_settings

    def ours(data: dict[str, Any]) -> list[str]:
        try:
            parse_settings(data)
        except ConfigError as exc:
            return str(exc).splitlines()
        return []

    libraries = {"teamgate": ours, "msgspec": None, "pydantic": None}
    libraries["msgspec"] = lambda data: config_msgspec.problems(data["teams"])
    libraries["pydantic"] = lambda data: config_pydantic.problems(data["teams"])
    score = {name: {"exact": 0, "path": 0, "value": 0, "values": 0} for name in libraries}
    table = {name: (m, e) for name, m, e in CASES}
    print("\nvalidation table cases (teams section), each library's first line:")
    for case in CONFIG_CASES:
        mutation, expected = table[case]
        path = expected.partition(": ")[0]
        got = _got(expected)
        print(f"  {case}\n    expected  {expected}")
        for name, run in libraries.items():
            data = seed_config()
            mutation(data)
            lines = run(data) or ["(accepted)"]
            first = lines[0]
            s = score[name]
            s["exact"] += first == expected
            s["path"] += first.partition(": ")[0] == path
            if got:
                s["values"] += 1
                s["value"] += got in first.partition(": ")[2]
            print(f"    {name:9} {first}")
    print("\nscore over these cases (exact message / dotted path / bad value shown):")
    for name, s in score.items():
        n = len(CONFIG_CASES)
        print(
            f"  {name}: exact {s['exact']}/{n}, path {s['path']}/{n}, "
            f"value {s['value']}/{s['values']}"
        )

    # All at once: three problems in three teams.
    data = seed_config()
    table["negative rpm"][0](data)
    table["on_limit choice"][0](data)
    table["key state choice"][0](data)
    for name, run in libraries.items():
        print(f"three problems at once, {name} reports {len(run(copy.deepcopy(data)))}")

    # Money: exact decimals from what YAML gives (a float 0.1, a string "20.10", an int).
    data = seed_config()
    data["teams"]["chatbot"]["monthly_budget_usd"] = 0.1
    data["teams"]["chatbot"]["environments"]["staging"]["monthly_budget_usd"] = "0.10"
    tg = parse_settings(copy.deepcopy(data)).teams["chatbot"]
    ms = config_msgspec.validate(copy.deepcopy(data)["teams"])["chatbot"]
    pd = config_pydantic.validate(copy.deepcopy(data)["teams"])["chatbot"]
    for name, team in (("teamgate", tg), ("msgspec", ms), ("pydantic", pd)):
        env = team.environments["staging"].monthly_budget_usd
        print(f"money, {name}: 0.1 -> {team.monthly_budget_usd!r}, '0.10' -> {env!r}")
    schema_ms = config_msgspec.json_schema()
    schema_pd = config_pydantic.json_schema()
    print(
        f"JSON Schema for free: msgspec {len(str(schema_ms))} chars, pydantic {len(str(schema_pd))}"
    )


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
    if sys.argv[1:] == ["config"]:
        config()
    else:
        imports()
        config()
        metrics()
        asyncio.run(_redis(1000))
