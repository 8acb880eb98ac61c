"""Batches settle without a client asking, survive restarts, and are charged once by many
instances; the weekly report shows them at the batch price; creation counts against RPM."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openai
import orjson
import pytest

from teamgate.app import create_app
from teamgate.endpoints.batch_poller import BatchPoller
from teamgate.http.serving import ServerThread
from teamgate.ledger import open_store
from teamgate.ledger.records import UsageRecord
from teamgate.pricing.price_list import BUILTIN_PRICES
from teamgate.reports import build_report, week_named
from teamgate.simulator import Simulator
from tests.conftest import UPSTREAM_SECRETS, RunningGateway, start_gateway
from tests.support.sdk_clients import error_of, openai_client

from .test_batches import MODEL, jsonl, line, upload

PICO = 10**12
RESEARCH_BUDGET = 500 * PICO


def on_loop(gw: RunningGateway, coro: Any) -> Future[Any]:
    """Run ``coro`` on the gateway's own event loop (its server thread)."""
    poller = poller_of(gw)
    assert poller._task is not None
    return asyncio.run_coroutine_threadsafe(coro, poller._task.get_loop())


def poller_of(gw: RunningGateway) -> BatchPoller:
    poller = gw.app.batch_poller
    assert poller is not None
    return poller


def started(gw: RunningGateway) -> RunningGateway:
    """``gw`` once its poller's start-up round is over (so a test does not race it)."""
    on_loop(gw, poller_of(gw).first_round.wait()).result(10)
    return gw


def poll(gw: RunningGateway) -> int:
    result: int = on_loop(gw, poller_of(gw).poll_once()).result(10)
    return result


def batch_records(gw: RunningGateway) -> list[UsageRecord]:
    return [r for r in gw.records() if r.endpoint == "batches" and r.refusal == ""]


def create(gw: RunningGateway, lines: int = 3) -> tuple[openai.OpenAI, str, str]:
    """A research batch of ``lines`` lines; (client, batch id, input file id)."""
    client = openai_client(gw, gw.key("research"))
    uploaded = upload(
        client, jsonl(*(line(str(i), max_completion_tokens=64) for i in range(lines)))
    )
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    return client, batch.id, uploaded.id


def output_usage(gw: RunningGateway, batch_id: str) -> tuple[int, int]:
    """(prompt, completion) token totals read from the batch's output file at the simulator."""
    sim = gw.simulator
    secret = sim.state.keys()[0]
    [batch] = [b for b in sim.batch_world.batches(secret) if b["id"] == batch_id]
    content = sim.batch_world.content(secret, batch["output_file_id"])
    assert content is not None
    usage = [orjson.loads(x)["response"]["body"]["usage"] for x in content.splitlines()]
    return sum(u["prompt_tokens"] for u in usage), sum(u["completion_tokens"] for u in usage)


def batch_cost(prompt: int, completion: int) -> int:
    """Independently: on-demand price from the published list, halved, rounded up."""
    price = BUILTIN_PRICES[MODEL]
    on_demand = (prompt * price.input + completion * price.output) * PICO / 10**6
    assert on_demand == on_demand.to_integral_value()
    return math.ceil(Decimal(on_demand) / 2)


def remaining(gw: RunningGateway) -> int:
    value = gw.app.gateway.budget.remaining_pico("research")
    assert value is not None
    return value


@contextmanager
def restarted(gw: RunningGateway) -> Iterator[RunningGateway]:
    """Another gateway process on the same ledger, settings and keys."""
    app = create_app(gw.settings, env=UPSTREAM_SECRETS)
    with ServerThread(app) as url:
        yield started(RunningGateway(url, gw.settings, app, gw.simulator, dict(gw.keys)))


@pytest.fixture
def gw(simulator: Simulator, tmp_path: Path) -> Iterator[RunningGateway]:
    for running in start_gateway(simulator, tmp_path):
        yield started(running)


def test_the_poller_settles_a_batch_nobody_asks_about(gw: RunningGateway) -> None:
    _, batch_id, _ = create(gw)
    worst = gw.app.gateway.endpoints.batch_reservations[batch_id].amount_pico
    assert remaining(gw) == RESEARCH_BUDGET - worst
    assert poll(gw) == 0  # still running at Groq: nothing settled, still reserved
    assert batch_id in gw.app.gateway.endpoints.batch_reservations
    assert gw.simulator.complete_batches() == 1
    assert poll(gw) == 1
    [rec] = batch_records(gw)
    cost = batch_cost(*output_usage(gw, batch_id))
    assert rec.cost_pusd == cost and rec.groq_id == batch_id
    assert rec.client_key == "research-batch-test" and rec.request_id == f"{batch_id}/{MODEL}"
    assert batch_id not in gw.app.gateway.endpoints.batch_reservations
    assert remaining(gw) == RESEARCH_BUDGET - cost
    assert poll(gw) == 0  # nothing open any more
    assert batch_records(gw) == [rec]


def test_the_background_loop_polls_every_interval(simulator: Simulator, tmp_path: Path) -> None:
    for gw in start_gateway(simulator, tmp_path, {"batches": {"poll_interval_s": 0.05}}):
        _, batch_id, _ = create(gw)
        assert gw.simulator.complete_batches() == 1
        deadline = time.monotonic() + 10
        while not batch_records(gw) and time.monotonic() < deadline:
            time.sleep(0.02)  # waiting for the poller's own timer, the behaviour under test
        [rec] = batch_records(gw)
        assert rec.groq_id == batch_id
        assert poller_of(gw).polls >= 2


def test_a_restart_keeps_the_reservation_and_charges_once(gw: RunningGateway) -> None:
    _, batch_id, _ = create(gw)
    worst = gw.app.gateway.endpoints.batch_reservations[batch_id].amount_pico
    second_batch = create(gw)[1]
    with restarted(gw) as again:
        # The reservations of both open batches are back, from the stored worst case.
        held = again.app.gateway.endpoints.batch_reservations
        assert set(held) == {batch_id, second_batch}
        assert held[batch_id].amount_pico == worst
        assert remaining(again) == RESEARCH_BUDGET - 2 * worst
        assert gw.simulator.complete_batches() == 2
        assert poll(again) == 2
        costs = {r.groq_id: r.cost_pusd for r in batch_records(again)}
        assert set(costs) == {batch_id, second_batch}
        assert remaining(again) == RESEARCH_BUDGET - sum(costs.values())
        assert held == {}
    # The first gateway still held its reservations; it sees them settled and lets go.
    assert poll(gw) == 0
    assert gw.app.gateway.endpoints.batch_reservations == {}
    with restarted(gw) as third:
        assert third.app.gateway.endpoints.batch_reservations == {}  # nothing re-reserved
        assert remaining(third) == RESEARCH_BUDGET - sum(costs.values())  # from the ledger
        assert poll(third) == 0
    assert len(batch_records(gw)) == 2  # charged once each, across three processes


def test_two_instances_polling_at_once_charge_once(gw: RunningGateway) -> None:
    _, batch_id, _ = create(gw)
    with restarted(gw) as other:
        assert batch_id in other.app.gateway.endpoints.batch_reservations
        assert gw.simulator.complete_batches() == 1
        for _ in range(3):  # several rounds of simultaneous polls
            futures = [on_loop(g, poller_of(g).poll_once()) for g in (gw, other, gw, other)]
            results = [f.result(10) for f in futures]
            if any(results):
                break
        assert sum(results) == 1
        [rec] = batch_records(gw)
        assert rec.cost_pusd == batch_cost(*output_usage(gw, batch_id))
        assert gw.app.gateway.endpoints.batch_reservations == {}
        assert other.app.gateway.endpoints.batch_reservations == {}
        # The winner charged the cost; the loser only released its hold (memory budgets
        # are per process).
        spent = sorted(RESEARCH_BUDGET - remaining(g) for g in (gw, other))
        assert spent == [0, rec.cost_pusd]


def test_the_weekly_report_shows_the_batch_at_the_batch_price(gw: RunningGateway) -> None:
    client, batch_id, _ = create(gw, lines=5)
    assert gw.simulator.complete_batches() == 1
    assert client.batches.retrieve(batch_id).status == "completed"  # settles it
    expected = batch_cost(*output_usage(gw, batch_id))
    [settled_at] = {r.ts for r in batch_records(gw)}

    async def report() -> Any:
        store = open_store(gw.settings.storage.url)
        await store.open()
        try:
            tz = gw.settings.org.timezone
            year, week, _ = datetime.fromtimestamp(settled_at, ZoneInfo(tz)).isocalendar()
            period = week_named(f"{year}-W{week:02d}", tz)  # the week the batch settled in
            return await build_report(store, gw.settings, period, by="model")
        finally:
            await store.close()

    built = asyncio.run(report())
    [research] = [t for t in built.teams if t.team == "research"]
    assert research.cost_pusd == expected
    prompt, completion = output_usage(gw, batch_id)
    assert (research.prompt_tokens, research.completion_tokens) == (prompt, completion)
    assert [(b.value, b.cost_pusd) for b in built.breakdown if b.team == "research"] == [
        (MODEL, expected)
    ]


def test_batch_creation_counts_against_the_teams_rpm(simulator: Simulator, tmp_path: Path) -> None:
    patch = {"teams": {"research": {"limits": {"rpm": 2}, "on_limit": "reject"}}}
    for gw in start_gateway(simulator, tmp_path, patch):
        client = openai_client(gw, gw.key("research"))
        client.max_retries = 0
        uploaded = upload(client, jsonl(line("a")))  # uploads are not rate limited
        kw = {"endpoint": "/v1/chat/completions", "completion_window": "24h"}
        client.batches.create(input_file_id=uploaded.id, **kw)  # type: ignore[arg-type]
        client.batches.create(input_file_id=uploaded.id, **kw)  # type: ignore[arg-type]
        with pytest.raises(openai.RateLimitError) as err:
            client.batches.create(input_file_id=uploaded.id, **kw)  # type: ignore[arg-type]
        assert error_of(err.value)["code"] == "rate_limit_exceeded"
        assert len(gw.simulator.batch_world.batches(gw.simulator.state.keys()[0])) == 2
        # The refused creation reserved nothing.
        held = gw.app.gateway.endpoints.batch_reservations
        assert len(held) == 2
        assert remaining(gw) == RESEARCH_BUDGET - sum(r.amount_pico for r in held.values())


@pytest.mark.parametrize("ending", ["completed", "cancelled", "output_unreadable_then_read"])
def test_settlement_outcomes(
    gw: RunningGateway, ending: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settling a batch: the batch price for a finished one, nothing for one cancelled with
    no output, and an output that cannot be read yet keeps the reservation until it can."""
    client, batch_id, _ = create(gw, lines=3)
    book = gw.app.gateway.budget
    reserved = gw.app.gateway.endpoints.batch_reservations[batch_id].amount_pico
    assert reserved > 0
    if ending == "cancelled":
        client.batches.cancel(batch_id)
    else:
        assert gw.simulator.complete_batches() == 1
    expected = 0
    if ending != "cancelled":
        expected = batch_cost(*output_usage(gw, batch_id))
    if ending == "output_unreadable_then_read":
        world = gw.simulator.batch_world
        readable = world.content
        monkeypatch.setattr(world, "content", lambda key, file_id: None)
        assert poll(gw) == 0  # Groq answers 404 for the output: not settled, still reserved
        assert batch_id in gw.app.gateway.endpoints.batch_reservations
        assert book.snapshot()[-1].reserved_pico >= reserved
        monkeypatch.setattr(world, "content", readable)
    if ending != "cancelled":
        assert poll(gw) == 1
    assert poll(gw) == 0  # exactly once
    records = batch_records(gw)
    assert sum(r.cost_pusd for r in records) == expected
    assert len(records) == (0 if ending == "cancelled" else 1)
    assert batch_id not in gw.app.gateway.endpoints.batch_reservations
    assert remaining(gw) == RESEARCH_BUDGET - expected
