"""Every metered endpoint through every outcome that applies: one record, and the books balance.

For each (endpoint, outcome) the test checks: exactly one ledger record for the
request, with the right status, refusal code and usage source (``estimated``
flag); its cost (the answer's, the worst case after a timeout after sending,
nothing for a connect timeout, a 5xx, an error or a refusal); the budget settled
to the sum of the recorded costs with no reservation left open (a created batch
keeps its own); TPD tokens (and audio seconds) counted exactly as recorded; the
concurrency slot released; the request counted in the metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from teamgate.limits.plan import team_key
from teamgate.simulator import Simulator
from tests.support.asgi_gateway import (
    AUDIO_SECONDS,
    BATCH_FILE_WORST_PUSD,
    EMBED,
    KEY_1,
    KEY_2,
    LIMITS,
    MODEL,
    TEAM,
    Harness,
    chat,
    running,
)
from tests.support.metered_endpoints import ENDPOINTS, Endpoint


@dataclass(frozen=True)
class Case:
    name: str
    status: int
    charge: str  # "usage", "estimate", "worst", "none"
    refusal: str = ""
    fault: str | None = None
    queued_fault: str | None = None  # pushed for KEY_1 only
    serving_key: str = KEY_1
    patch: dict[str, Any] = field(default_factory=dict)
    setup: str = ""  # "primer", "holder", "backlog"
    leave_after_s: float | None = None
    leave_after_chunks: int | None = None
    forwarded: bool = True
    streamed_only: bool = False
    blackhole: bool = False


def _limits(*, queue: bool = False, **extra: Any) -> dict[str, Any]:
    team: dict[str, Any] = {"limits": {**LIMITS, **extra}}
    if queue:
        team["on_limit"] = "queue"
    return {"teams": {TEAM: team}}


CASES = [
    Case("served", 200, "usage"),
    Case("upstream_4xx", 400, "none", fault="400"),
    Case("upstream_5xx_then_retry", 200, "usage", queued_fault="500", serving_key=KEY_2),
    Case("upstream_5xx", 500, "none", fault="500"),
    Case("failover_401", 200, "usage", queued_fault="401", serving_key=KEY_2),
    Case("upstream_429_passed_on", 429, "none", fault="429;retry_after=60"),
    Case("timeout_after_send", 504, "worst", fault="latency;s=2.5"),
    Case("connect_timeout", 504, "none", blackhole=True),
    Case(
        "client_gone_queued_window",
        499,
        "none",
        "",
        patch=_limits(rpm=1, queue=True),
        setup="primer",
        leave_after_s=0.3,
        forwarded=False,
    ),
    Case(
        "client_gone_queued_slot",
        499,
        "none",
        "",
        patch={**_limits(concurrency=1, queue=True), "upstream": {"timeout_s": 5}},
        setup="holder",
        leave_after_s=0.3,
        forwarded=False,
    ),
    Case("client_gone_mid_answer", 200, "usage", fault="latency;s=0.3", leave_after_s=0.1),
    Case(
        "client_gone_mid_stream",
        200,
        "estimate",
        fault="latency;s=0;chunk_s=0.05",
        leave_after_chunks=3,
        streamed_only=True,
    ),
    Case("stream_cut", 200, "estimate", fault="stream_break;after=2", streamed_only=True),
    Case(
        "budget_refused",
        429,
        "none",
        "team_budget",
        patch={"teams": {TEAM: {"monthly_budget_usd": "0.00000001"}}},
        forwarded=False,
    ),
    Case(
        "limit_refused",
        429,
        "none",
        "team_rate_limit",
        patch=_limits(rpm=1),
        setup="primer",
        forwarded=False,
    ),
    Case(
        "ledger_backlogged",
        503,
        "none",
        "backlogged",
        patch={"storage": {"max_pending_records": 1}},
        setup="backlog",
        forwarded=False,
    ),
]


def _applies(endpoint: Endpoint, case: Case) -> bool:
    if case.streamed_only:
        return endpoint.stream
    return not (case.name == "client_gone_mid_answer" and endpoint.stream)


MATRIX = [
    pytest.param(e, c, id=f"{e.name}-{c.name}") for e in ENDPOINTS for c in CASES if _applies(e, c)
]


@pytest.fixture
def blackhole() -> Iterator[str]:
    """A URL whose connections never complete (a full accept queue drops the SYNs)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    yield f"http://127.0.0.1:{port}"
    for s in [*fillers, server]:
        s.close()


async def _setup(h: Harness, sim: Simulator, case: Case) -> asyncio.Task[Any] | None:
    if case.setup in ("primer", "backlog"):
        assert (await h.call(chat(False))).status == 200
    if case.setup == "backlog":
        store = h.gw.store
        assert store is not None

        async def full(records: Any) -> None:
            raise OSError("database or disk is full")

        store.append_usage = full  # type: ignore[method-assign]
        with pytest.raises(OSError):
            await h.gw.ledger.flush()
    if case.setup == "holder":
        holder = asyncio.create_task(h.call(chat(False), fault="hold;s=10"))
        assert await asyncio.to_thread(sim.wait_held, 1)
        return holder
    return None


@pytest.mark.parametrize(("endpoint", "case"), MATRIX)
async def test_outcome(
    endpoint: Endpoint, case: Case, simulator: Simulator, blackhole: str, tmp_path: Path
) -> None:
    simulator._models = simulator._models | {EMBED}  # an embeddings model Groq serves
    url = blackhole if case.blackhole else simulator.url  # type: ignore[attr-defined]
    async with running(url, tmp_path, case.patch) as h:
        request = await endpoint.build(h, simulator, case.serving_key)
        holder = await _setup(h, simulator, case)
        before = await h.known_ids()
        sent_before = _sent(simulator, request.path)
        if case.queued_fault:
            simulator.push_faults(KEY_1, case.queued_fault)
        reply = await h.call(
            request,
            fault=case.fault,
            leave_after_s=case.leave_after_s,
            leave_after_chunks=case.leave_after_chunks,
        )
        if case.setup == "backlog":
            del h.gw.store.append_usage  # type: ignore[union-attr]  # the disk has room again
        if case.leave_after_s is None and case.leave_after_chunks is None:
            assert reply.status == case.status, reply.body
        new = [r for r in await h.records() if r.request_id not in before]
        assert len(new) == 1, new
        [rec] = new
        if not case.forwarded:
            assert _sent(simulator, request.path) == sent_before, rec
        if holder is not None:
            simulator.release_held()
            assert (await holder).status == 200
        records = await h.records()
        gw = h.gw
        _check_record(endpoint, case, rec, gw)
        # The books balance: budget, counters, slots, metrics.
        [team_row] = [row for row in gw.budget.snapshot() if row.team == TEAM]
        assert team_row.settled_pico == sum(r.cost_pusd for r in records)
        kept = BATCH_FILE_WORST_PUSD if endpoint.unit == "none" and case.name in _CREATED else 0
        assert team_row.reserved_pico == kept
        _check_counters(endpoint, records, gw)
        counters = gw.limiter._counters
        assert counters.slots_taken(team_key(TEAM, "concurrency")) == 0  # type: ignore[attr-defined]
        assert sum(gw.metrics.requests.values()) == len(records)
        label = MODEL if rec.endpoint == "batches.create" else rec.model_served
        assert gw.metrics.requests.get((TEAM, label, rec.status), 0) >= 1
        if rec.refusal:
            assert gw.metrics.refusals[(TEAM, rec.refusal)] >= 1
        admitted = [r for r in records if r.endpoint != "files" and r.refusal != "backlogged"]
        assert gw.metrics.queue_wait[TEAM].count == len(admitted)  # queue_s on every endpoint


_CREATED = ("served", "upstream_5xx_then_retry", "failover_401", "client_gone_mid_answer")


def _sent(simulator: Simulator, path: str) -> int:
    """How many requests the simulator received on ``path``."""
    return sum(1 for r in simulator.state.requests() if r.path == path)


def _check_record(endpoint: Endpoint, case: Case, rec: Any, gw: Any) -> None:
    assert rec.endpoint == endpoint.record_endpoint
    assert (rec.status, rec.refusal) == (case.status, case.refusal)
    assert rec.streamed == endpoint.stream
    if case.serving_key == KEY_2:
        assert rec.upstream_key == "analytics-prod-2"
    if case.charge == "none" or (case.charge == "usage" and endpoint.unit == "none"):
        assert (rec.cost_pusd, rec.usage_source) == (0, "none")
        if endpoint.unit == "none" and case.charge == "usage":
            assert rec.groq_id.startswith("batch_")
        return
    if case.charge == "usage":
        assert rec.usage_source == "reported" and rec.cost_pusd > 0
    elif case.charge == "estimate":
        assert rec.usage_source == "estimated"
        assert 0 < rec.completion_tokens < endpoint.cap
    else:  # the worst case, marked estimated
        assert rec.usage_source == "estimated"
        if endpoint.unit == "none":
            assert rec.cost_pusd == BATCH_FILE_WORST_PUSD
        elif endpoint.unit == "audio":
            price = gw.endpoints.audio_prices.get(rec.model_served)
            assert rec.cost_pusd == price.cost_ms(AUDIO_SECONDS * 1000)
        else:
            assert rec.completion_tokens == endpoint.cap
    if endpoint.unit == "tokens":
        model = rec.model_served if endpoint.cap == 0 else MODEL
        assert rec.cost_pusd == gw.prices.cost(model, rec.prompt_tokens, rec.completion_tokens)


def _check_counters(endpoint: Endpoint, records: list[Any], gw: Any) -> None:
    """TPD counts exactly the recorded tokens; ASD the recorded (billed) audio seconds."""
    headers = gw.limiter.headers(TEAM)
    used_tokens = LIMITS["tpd"] - int(headers["x-ratelimit-remaining-tokens"])
    recorded = sum(r.prompt_tokens + r.completion_tokens for r in records)
    assert abs(used_tokens - recorded) <= 60, (used_tokens, recorded)  # TPD refills ~12/s
    if endpoint.unit == "audio":
        counters = gw.limiter._counters
        remaining, _ = counters.peek_now(team_key(TEAM, "asd"), LIMITS["asd"], 86400.0, _now(gw))
        charged = sum(1 for r in records if r.endpoint.startswith("audio.") and r.cost_pusd)
        assert abs((LIMITS["asd"] - remaining) - AUDIO_SECONDS * charged) <= 2


def _now(gw: Any) -> float:
    return float(gw.limiter._clock())
