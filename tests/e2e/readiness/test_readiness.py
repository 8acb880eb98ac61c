"""``/readyz`` follows the store, Redis, start-up and SIGTERM drain; ``/healthz`` stays liveness."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from teamgate.app import create_app
from teamgate.http.serving import ServerThread
from teamgate.ledger.postgres.store import PostgresStore
from teamgate.routes.readiness import Probe, Readiness
from teamgate.simulator import Simulator
from tests.conftest import UPSTREAM_SECRETS, build_settings
from tests.e2e.readiness.tcp_proxy import StallingProxy
from tests.support.serve_process import ServeProcess
from tests.support.shared_services import (
    POSTGRES_URL,
    REDIS_URL,
    create_schema,
    drop_schema,
    unique_name,
)

FLIP_S = 2.0  # the promise: /readyz follows a dependency within 2 s, both ways


class Switch:
    def __init__(self) -> None:
        self.up = True

    async def call(self) -> None:
        if not self.up:
            raise ConnectionRefusedError("refused")


@pytest.mark.parametrize(
    ("store_up", "redis_up", "started", "draining", "expected"),
    [
        (True, True, False, False, (503, "starting")),
        (True, True, True, False, (200, None)),
        (False, True, True, False, (503, "store_unreachable")),
        (True, False, True, False, (503, "redis_unreachable")),
        (False, False, True, False, (503, "store_unreachable")),
        (True, True, True, True, (503, "draining")),
        (False, True, True, True, (503, "draining")),
    ],
)
async def test_reason_codes(
    store_up: bool, redis_up: bool, started: bool, draining: bool, expected: tuple[int, Any]
) -> None:
    store, redis = Switch(), Switch()
    store.up, redis.up = store_up, redis_up
    readiness = Readiness(
        [
            Probe("store", "store_unreachable", store.call),
            Probe("redis", "redis_unreachable", redis.call),
        ]
    )
    if started:
        await readiness.start()
    if draining:
        readiness.drain()
    status, body = readiness.answer()
    reason = expected[1]
    want = (
        b'{"status":"ok"}'
        if reason is None
        else b'{"status":"unavailable","reason":"%s"}' % reason.encode()
    )
    assert (status, body) == (expected[0], want)
    await readiness.close()


def test_an_app_not_yet_started_is_not_ready(simulator: Simulator, tmp_path: Path) -> None:
    app = create_app(build_settings(simulator.url, tmp_path / "l.db"), env=UPSTREAM_SECRETS)  # type: ignore[attr-defined]
    assert app.readiness.answer()[0] == 503
    assert app.readiness.reason == "starting"


@pytest.fixture
def services() -> Iterator[dict[str, Any]]:
    """A migrated PostgreSQL schema and Redis, each reached through a StallingProxy."""
    schema = unique_name("ready")

    async def prepare() -> None:
        await create_schema(schema)
        await PostgresStore(POSTGRES_URL, schema=schema).migrate()

    asyncio.run(prepare())
    pg = StallingProxy("127.0.0.1", int(POSTGRES_URL.rsplit(":", 1)[1].split("/")[0])).start()
    redis_host, redis_port = REDIS_URL.removeprefix("redis://").split("/")[0].split(":")
    redis = StallingProxy(redis_host, int(redis_port)).start()
    user = POSTGRES_URL.removeprefix("postgresql://").split("@")[0]
    db = POSTGRES_URL.rsplit("/", 1)[1]
    yield {
        "pg": pg,
        "redis": redis,
        "storage_url": f"postgresql://{user}@127.0.0.1:{pg.port}/{db}?search_path={schema}",
        "redis_url": f"redis://127.0.0.1:{redis.port}/0",
        "prefix": unique_name("ready") + ":",
    }
    pg.stop()
    redis.stop()
    asyncio.run(drop_schema(schema))


def _wait_for(url: str, status: int, timeout_s: float) -> tuple[float, dict[str, Any]]:
    start = time.monotonic()
    while True:
        try:
            response = httpx.get(url + "/readyz", timeout=1)
            if response.status_code == status:
                return time.monotonic() - start, response.json()
        except httpx.HTTPError:
            pass
        assert time.monotonic() - start < timeout_s, f"/readyz did not become {status}"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("component", "reason"),
    [("pg", "store_unreachable"), ("redis", "redis_unreachable")],
)
def test_readyz_follows_a_real_outage_within_2s_both_ways(
    simulator: Simulator,
    tmp_path: Path,
    services: dict[str, Any],
    component: str,
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = build_settings(
        simulator.url,  # type: ignore[attr-defined]
        tmp_path / "unused.db",
        {"redis": {"url": services["redis_url"], "key_prefix": services["prefix"]}},
    )
    import dataclasses

    settings = dataclasses.replace(
        settings, storage=dataclasses.replace(settings.storage, url=services["storage_url"])
    )
    caplog.set_level(logging.INFO)
    with ServerThread(create_app(settings, env=UPSTREAM_SECRETS)) as url:
        _wait_for(url, 200, 10)
        services[component].stall()
        took_down, body = _wait_for(url, 503, FLIP_S + 3)
        assert body == {"status": "unavailable", "reason": reason}
        assert httpx.get(url + "/healthz").status_code == 200  # liveness is not readiness
        time.sleep(1.0)  # the outage goes on: no more lines about it
        services[component].resume()
        took_up, body = _wait_for(url, 200, FLIP_S + 3)
        assert body == {"status": "ok"}
    assert took_down <= FLIP_S and took_up <= FLIP_S, (took_down, took_up)
    name = "store" if component == "pg" else "redis"
    readiness_lines = [r.getMessage() for r in caplog.records if r.name == "teamgate.readiness"]
    assert [m for m in readiness_lines if m.startswith(f"{name} unreachable")] != []
    assert len([m for m in readiness_lines if f"{name} unreachable" in m]) == 1
    assert len([m for m in readiness_lines if m.startswith(f"{name} recovered after")]) == 1
    tracebacks = [r for r in caplog.records if r.exc_info and r.levelno >= logging.WARNING]
    assert tracebacks == [], [r.getMessage() for r in tracebacks]
    # One line per component and outage, whichever component noticed it.
    warned = [r.name for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(warned) == len(set(warned)), warned


def test_sigterm_drains_readyz_first(simulator: Simulator, tmp_path: Path) -> None:
    proc = ServeProcess(tmp_path, simulator.url, {"server": {"drain_delay_s": 1.5}})  # type: ignore[attr-defined]
    key = proc.issue_key()
    proc.start()
    try:
        assert httpx.get(proc.url + "/readyz").json() == {"status": "ok"}
        proc.signal(signal.SIGTERM)
        took, body = _wait_for(proc.url, 503, FLIP_S)
        assert body == {"status": "unavailable", "reason": "draining"}
        assert took < 1.0
        # Still serving while the load balancer takes it out.
        reply = httpx.post(
            proc.url + "/openai/v1/chat/completions",
            headers={"Authorization": f"Bearer {key}"},
            json={"model": "llama-3.1-8b-instant", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert reply.status_code == 200
        assert proc.wait(15) == 0
    finally:
        proc.stop()


async def test_a_busy_sqlite_writer_does_not_make_the_gateway_unready(tmp_path: Path) -> None:
    """Under load the SQLite writer's one thread is busy with batches; the probe must not
    queue behind them (it did, and /readyz flapped to 503 at a few thousand requests/s)."""
    from teamgate.ledger.sqlite.store import SQLiteStore

    store = SQLiteStore(str(tmp_path / "busy.db"))
    await store.open()
    readiness = Readiness([Probe("store", "store_unreachable", store.ping)])
    await readiness.start()
    try:
        busy = asyncio.get_running_loop().run_in_executor(
            store._executor,
            time.sleep,
            3.0,  # the writer thread, stuck in a long write
        )
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await asyncio.wait_for(store.ping(), timeout=1.0)
        assert time.monotonic() - started < 1.0
        await readiness.check()
        assert readiness.answer()[0] == 200
        await busy
    finally:
        await readiness.close()
        await store.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_ping_answers_on_both_stores_and_fails_when_closed(tmp_path: Path, kind: str) -> None:
    from teamgate.ledger.sqlite.store import SQLiteStore
    from tests.support.shared_services import TempSchemaPostgresStore

    store = SQLiteStore(str(tmp_path / "p.db")) if kind == "sqlite" else TempSchemaPostgresStore()
    await store.open()
    await store.ping()
    await store.close()
    with pytest.raises(Exception):  # noqa: B017 - each store raises its own "not open"
        await store.ping()
