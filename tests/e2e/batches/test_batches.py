"""Files and batches through teamgate: line checks, budget at the batch price, ownership."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest

from teamgate.pricing.prices import PriceTable
from teamgate.simulator import Simulator
from tests.conftest import RunningGateway, start_gateway
from tests.support.ledger_wait import records_after
from tests.support.sdk_clients import error_of, openai_client

MODEL = "llama-3.1-8b-instant"


def line(custom_id: str, model: str = MODEL, **body: Any) -> dict[str, Any]:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": model, "messages": [{"role": "user", "content": "hello"}], **body},
    }


def jsonl(*lines: dict[str, Any]) -> bytes:
    return b"".join(orjson.dumps(x) + b"\n" for x in lines)


@pytest.fixture
def gw(simulator: Simulator, tmp_path: Path) -> Iterator[RunningGateway]:
    yield from start_gateway(simulator, tmp_path)


def upload(client: openai.OpenAI, data: bytes) -> Any:
    return client.files.create(file=("in.jsonl", io.BytesIO(data)), purpose="batch")


def test_upload_create_complete_settles_at_the_batch_price(gw: RunningGateway) -> None:
    client = openai_client(gw, gw.key("research"))
    uploaded = upload(client, jsonl(line("a"), line("b", "fast", max_completion_tokens=50)))
    # The alias was resolved and the absent cap set before Groq saw the file.
    sent = gw.simulator.batch_world.content(gw.simulator.state.keys()[0], uploaded.id)
    assert sent is not None
    first, second = (orjson.loads(x) for x in sent.splitlines())
    assert first["body"]["max_completion_tokens"] == 4096
    assert second["body"]["model"] == MODEL and second["body"]["max_completion_tokens"] == 50

    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert batch.status == "in_progress"
    book = gw.app.gateway.budget
    assert gw.app.gateway.endpoints.batch_reservations[batch.id].amount_pico > 0
    assert gw.simulator.complete_batches() == 1
    done = client.batches.retrieve(batch.id)
    assert done.status == "completed" and done.output_file_id
    output = client.files.content(done.output_file_id).content
    usage = [orjson.loads(x)["response"]["body"]["usage"] for x in output.splitlines()]
    prompt = sum(u["prompt_tokens"] for u in usage)
    completion = sum(u["completion_tokens"] for u in usage)
    [rec] = [r for r in records_after(gw, 1) if r.endpoint == "batches"]
    on_demand = PriceTable.from_settings(gw.settings).cost(MODEL, prompt, completion)
    assert rec.cost_pusd == -(-on_demand // 2)
    assert (rec.prompt_tokens, rec.completion_tokens) == (prompt, completion)
    assert rec.groq_id == batch.id and rec.team == "research"
    assert batch.id not in gw.app.gateway.endpoints.batch_reservations
    # Settled once: reading it again charges nothing more.
    client.batches.retrieve(batch.id)
    client.batches.list()
    assert [r for r in records_after(gw, 1) if r.endpoint == "batches"] == [rec]
    status = book.remaining_pico("research")
    assert status is not None and status == 500 * 10**12 - rec.cost_pusd


def test_disallowed_model_is_refused_with_its_line_number(gw: RunningGateway) -> None:
    client = openai_client(gw, gw.key("analytics"))
    data = jsonl(line("ok"), line("bad", "llama-3.3-70b-versatile"), line("big", max_tokens=9999))
    with pytest.raises(openai.BadRequestError) as err:
        upload(client, data)
    error = error_of(err.value)
    assert error["code"] == "invalid_batch_file"
    assert "2 line(s) at fault" in error["message"]
    assert (
        "line 2: Team `analytics` is not allowed to use model `llama-3.3-70b-versatile`"
        in (error["message"])
    )
    assert "line 3: 'max_tokens' : 9999 exceeds the limit of 512" in error["message"]
    assert "line 1" not in error["message"]
    assert gw.simulator.state.request_count() == 0  # never reached Groq


def test_other_endpoint_in_a_line_is_refused(gw: RunningGateway) -> None:
    client = openai_client(gw, gw.key("research"))
    bad = dict(line("a"), url="/v1/embeddings")
    with pytest.raises(openai.BadRequestError) as err:
        upload(client, jsonl(bad))
    assert "line 1: 'url' '/v1/embeddings' is not allowed" in error_of(err.value)["message"]


def test_batch_over_budget_is_refused_before_groq(simulator: Simulator, tmp_path: Path) -> None:
    patch = {"teams": {"analytics": {"monthly_budget_usd": "0.00001"}}}
    for gw in start_gateway(simulator, tmp_path, patch):
        client = openai_client(gw, gw.key("analytics"))
        uploaded = upload(client, jsonl(*(line(str(i)) for i in range(400))))
        with pytest.raises(openai.RateLimitError) as err:
            client.batches.create(
                input_file_id=uploaded.id,
                endpoint="/v1/chat/completions",
                completion_window="24h",
            )
        assert error_of(err.value)["code"] == "budget_exceeded"
        assert gw.simulator.batch_world.batches(gw.simulator.state.keys()[0]) == []


def test_teams_see_only_their_own_files_and_batches(gw: RunningGateway) -> None:
    research = openai_client(gw, gw.key("research"))
    analytics = openai_client(gw, gw.key("analytics"))
    theirs = upload(research, jsonl(line("a")))
    mine = upload(analytics, jsonl(line("b")))
    batch = research.batches.create(
        input_file_id=theirs.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert [f.id for f in analytics.files.list().data] == [mine.id]
    assert [b.id for b in analytics.batches.list().data] == []
    assert [b.id for b in research.batches.list().data] == [batch.id]
    calls: list[Any] = [
        lambda: analytics.files.retrieve(theirs.id),
        lambda: analytics.files.content(theirs.id),
        lambda: analytics.files.delete(theirs.id),
        lambda: analytics.batches.retrieve(batch.id),
        lambda: analytics.batches.cancel(batch.id),
        lambda: analytics.batches.create(
            input_file_id=theirs.id, endpoint="/v1/chat/completions", completion_window="24h"
        ),
    ]
    for call in calls:
        with pytest.raises(openai.NotFoundError) as err:
            call()
        assert error_of(err.value)["code"] == "not_found"
    # The owner still has everything; a cancelled batch with no output is released.
    assert research.files.retrieve(theirs.id).id == theirs.id
    assert research.batches.cancel(batch.id).status == "cancelled"
    assert batch.id not in gw.app.gateway.endpoints.batch_reservations
    assert research.files.delete(theirs.id).deleted
    with pytest.raises(openai.NotFoundError):
        research.files.retrieve(theirs.id)
