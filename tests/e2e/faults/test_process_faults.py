"""Faults of the gateway's own: SIGTERM and SIGKILL under load, a full disk under SQLite."""

from __future__ import annotations

import asyncio
import logging
import signal
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from teamgate.app import create_app
from teamgate.config.loader import load_settings
from teamgate.http.serving import ServerThread
from teamgate.ledger.records import UsageRecord
from teamgate.ledger.spill import SPILL_GLOB, read_spill
from teamgate.ledger.sqlite.store import SQLiteStore
from teamgate.runtime import Gateway
from teamgate.simulator import SimulatorConfig, create_simulator
from tests.conftest import UPSTREAM_SECRETS, RunningGateway, build_settings
from tests.support.chat_checks import assert_groq_error, chat, chat_body, records_when, wait_until
from tests.support.serve_process import ServeProcess

CHAT = "/openai/v1/chat/completions"


async def _until(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def test_sigterm_under_load_finishes_in_flight_requests_and_loses_nothing(
    tmp_path: Path,
) -> None:
    sim = create_simulator(SimulatorConfig(latency_s=1.5))
    with ServerThread(sim.app) as sim_url:
        proc = ServeProcess(tmp_path, sim_url, {"server": {"grace_period_s": 10}})
        key = await asyncio.to_thread(proc.issue_key)
        proc.start()
        try:
            headers = {"authorization": f"Bearer {key}"}
            async with httpx.AsyncClient(timeout=20) as client:
                calls = [
                    asyncio.create_task(
                        client.post(proc.url + CHAT, content=chat_body(), headers=headers)
                    )
                    for _ in range(20)
                ]
                await _until(lambda: sim.state.in_flight() == 20, 10, "20 requests in flight")
                proc.signal(signal.SIGTERM)
                # It stops accepting at once (a connection the kernel queued just before
                # the listener closed is dropped unread: a read error)...
                refused = (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)
                with pytest.raises(refused):
                    async with httpx.AsyncClient(timeout=1) as probe:
                        for _ in range(200):
                            await probe.get(proc.url + "/health")
                            await asyncio.sleep(0.01)
                assert sim.state.in_flight() > 0, "the requests were still in flight"
                # ...and every request it had accepted completes.
                answers = await asyncio.gather(*calls)
            assert [r.status_code for r in answers] == [200] * 20
            started = time.monotonic()
            assert await asyncio.to_thread(proc.wait, 15) == 0
            assert time.monotonic() - started < 10
        finally:
            proc.stop()
    records = await asyncio.to_thread(proc.records)
    assert len(records) == 20, "one ledger record per completed request"
    assert {r.groq_id for r in records} == {r.json()["x_groq"]["id"] for r in answers}
    assert {(r.status, r.usage_source) for r in records} == {(200, "reported")}
    assert "Traceback" not in proc.log.read_text()


async def test_sigkill_under_load_loses_at_most_the_flush_window_and_no_reservation(
    tmp_path: Path,
) -> None:
    flush_s = 0.1
    slack_s = 0.4  # time to write one batch, and scheduling noise
    sim = create_simulator(SimulatorConfig(latency_s=0.005))
    with ServerThread(sim.app) as sim_url:
        proc = ServeProcess(tmp_path, sim_url, {"storage": {"flush_interval_ms": 100}})
        key = await asyncio.to_thread(proc.issue_key)
        proc.start()
        completed: list[tuple[float, str]] = []
        stop = False
        headers = {"authorization": f"Bearer {key}"}

        async def worker(client: httpx.AsyncClient) -> None:
            while not stop:
                try:
                    resp = await client.post(proc.url + CHAT, content=chat_body(), headers=headers)
                except httpx.HTTPError:
                    return
                assert resp.status_code == 200, resp.text
                completed.append((time.monotonic(), resp.json()["x_groq"]["id"]))

        try:
            async with httpx.AsyncClient(timeout=10) as client:
                workers = [asyncio.create_task(worker(client)) for _ in range(8)]
                await _until(lambda: len(completed) >= 100, 20, "load")
                await asyncio.sleep(0.8)  # answers older than the window, and more load
                killed_at = time.monotonic()
                proc.signal(signal.SIGKILL)
                stop = True
                await asyncio.gather(*workers)
            assert await asyncio.to_thread(proc.wait, 10) == -signal.SIGKILL
        finally:
            proc.stop()

    records = await asyncio.to_thread(proc.records)
    in_ledger = {r.groq_id for r in records}
    lost = [t for t, groq_id in completed if groq_id not in in_ledger]
    assert all(t > killed_at - flush_s - slack_s for t in lost), (
        f"{len(lost)} answered requests missing from the ledger, some older than the flush window"
    )
    older = [t for t, _ in completed if t <= killed_at - flush_s - slack_s]
    assert len(older) >= 100, "the load ran past the window before the kill"
    assert len(records) >= len(completed) - len(lost)
    # Never more in the ledger than Groq served: spend is within one window of the truth.
    billed = sim.state.billed(next(iter(UPSTREAM_SECRETS.values())))  # unused key: (0, 0)
    assert billed == (0, 0)
    served = sim.state.billed(UPSTREAM_SECRETS["GROQ_KEY_ANALYTICS_PROD"])
    assert sum(r.completion_tokens for r in records) <= served[1]

    # Restart on the same file: the month's spend is the ledger's sum, nothing reserved.
    settings = load_settings(proc.config, {})
    gateway = Gateway(settings, env=UPSTREAM_SECRETS)
    await gateway.open()
    try:
        rows = {row.scope: row for row in gateway.budget.snapshot()}
        assert all(row.reserved_pico == 0 for row in rows.values())
        assert rows["team:analytics"].settled_pico == sum(r.cost_pusd for r in records)
        assert rows["org"].settled_pico == sum(r.cost_pusd for r in records)
    finally:
        await gateway.close()


class DiskFullStore(SQLiteStore):
    """A SQLite store whose usage writes fail as on a full disk while ``full`` is set."""

    full = False

    async def append_usage(self, records: Sequence[UsageRecord]) -> None:
        if self.full:
            raise sqlite3.OperationalError("database or disk is full")
        await super().append_usage(records)


def _gateway_on(
    store: SQLiteStore,
    tmp_path: Path,
    patch: dict[str, Any],
    simulator: Any,
    *,
    new_key: bool = True,
) -> RunningGateway:
    settings = build_settings(simulator.url, tmp_path / "ledger.db", patch)
    app = create_app(settings, env=UPSTREAM_SECRETS, store=store)
    gw = RunningGateway("", settings, app, simulator)
    if new_key:
        gw.add_key("analytics", "prod", "test")
    return gw


def test_disk_full_serves_and_buffers_up_to_the_bound_then_refuses_then_recovers(
    simulator: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="teamgate")
    store = DiskFullStore(str(tmp_path / "ledger.db"))
    gw = _gateway_on(store, tmp_path, {"storage": {"max_pending_records": 4}}, simulator)
    with ServerThread(gw.app) as url:
        gw.url = url
        writer = gw.app.gateway.ledger
        store.full = True
        for _ in range(4):
            assert chat(gw).status_code == 200  # served while the disk is full
        wait_until(lambda: writer.failing, what="the writer to notice the full disk")
        assert writer.pending == 4
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert any("ledger write failed" in r.getMessage() for r in errors)
        assert "database or disk is full" in caplog.text
        # The bound is reached: refuse rather than serve what cannot be recorded.
        assert_groq_error(chat(gw), 503, "gateway_state_unavailable")
        assert simulator.state.request_count() == 4
        store.full = False
        wait_until(lambda: writer.pending == 0, 10, "the writer to catch up")
        assert chat(gw).status_code == 200
        records = records_when(gw, 6)  # the refusal is recorded too, once the store is back
    assert sorted((r.status, r.refusal) for r in records) == [(200, "")] * 5 + [(503, "backlogged")]
    assert "ledger write recovered" in caplog.text


def test_disk_full_through_shutdown_spills_to_a_file_imported_at_restart(
    simulator: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="teamgate")
    store = DiskFullStore(str(tmp_path / "ledger.db"))
    gw = _gateway_on(store, tmp_path, {"server": {"grace_period_s": 1}}, simulator)
    with ServerThread(gw.app) as url:
        gw.url = url
        store.full = True
        answers = [chat(gw) for _ in range(3)]
    assert [a.status_code for a in answers] == [200] * 3
    (spill,) = tmp_path.glob(SPILL_GLOB)
    assert len(read_spill(spill)) == 3
    assert any(
        r.levelno == logging.ERROR and str(spill) in r.getMessage() for r in caplog.records
    ), caplog.text
    assert gw.records() == []  # nothing reached the database

    restarted = _gateway_on(
        SQLiteStore(str(tmp_path / "ledger.db")), tmp_path, {}, simulator, new_key=False
    )
    with ServerThread(restarted.app) as url:
        restarted.url = url
        rows = {row.scope: row for row in restarted.app.gateway.budget.snapshot()}
        records = restarted.records()
        assert len(records) == 3
        assert {r.groq_id for r in records} == {a.json()["x_groq"]["id"] for a in answers}
        assert rows["team:analytics"].settled_pico == sum(r.cost_pusd for r in records) > 0
    assert not list(tmp_path.glob(SPILL_GLOB))
