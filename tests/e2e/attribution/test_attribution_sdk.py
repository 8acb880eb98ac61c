"""Attribution as docs/attribution.md shows it: the OpenAI SDK's ``user`` and
``extra_headers``, and a batch whose settled records carry its creator's end user and tags."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import openai
import orjson
import pytest

from teamgate.simulator import Simulator
from tests.conftest import RunningGateway, start_gateway
from tests.support.ledger_wait import records_after
from tests.support.sdk_clients import openai_client

MODEL = "llama-3.1-8b-instant"
MSG = [{"role": "user", "content": "hi"}]
ATTRIBUTION = {"x-teamgate-user": "u-1842", "x-teamgate-tags": "feature=search,tenant=acme"}


@pytest.fixture
def gw(simulator: Simulator, tmp_path: Path) -> Iterator[RunningGateway]:
    yield from start_gateway(simulator, tmp_path)


def test_openai_sdk_user_and_extra_headers(gw: RunningGateway) -> None:
    client = openai_client(gw, gw.key("research"))
    client.chat.completions.create(model=MODEL, messages=MSG, user="u-77")  # type: ignore[arg-type]
    client.chat.completions.create(
        model=MODEL,
        messages=MSG,  # type: ignore[arg-type]
        extra_headers=ATTRIBUTION,
    )
    stream = client.chat.completions.create(
        model=MODEL,
        messages=MSG,  # type: ignore[arg-type]
        stream=True,
        user="u-77",
        extra_headers={"x-teamgate-tags": "feature=chat"},
    )
    assert [chunk for chunk in stream]
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model=MODEL,
            messages=MSG,  # type: ignore[arg-type]
            extra_headers={"x-teamgate-tags": "feature=two words"},
        )
    assert "x-teamgate-tags" in str(err.value)
    records = records_after(gw, 4)
    assert [(r.end_user, r.tags, r.status) for r in records] == [
        ("u-77", "", 200),
        ("u-1842", "feature=search,tenant=acme", 200),
        ("u-77", "feature=chat", 200),
        ("", "", 400),
    ]
    sent = gw.simulator.state.requests()
    assert [orjson.loads(r.raw).get("user") if r.raw else r.body.get("user") for r in sent] == [
        "u-77",
        None,
        "u-77",
    ]


def test_a_settled_batch_is_attributed_to_its_creation(gw: RunningGateway) -> None:
    client = openai_client(gw, gw.key("research"))
    line = {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": MODEL, "messages": MSG}}  # fmt: skip
    uploaded = client.files.create(
        file=("in.jsonl", io.BytesIO(orjson.dumps(line) + b"\n")),
        purpose="batch",
        extra_headers={"x-teamgate-tags": "feature=nightly"},
    )
    batch = client.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        extra_headers=ATTRIBUTION,
    )
    assert gw.simulator.complete_batches() == 1
    client.batches.retrieve(batch.id)
    records = records_after(gw, 3)
    by_endpoint = {r.endpoint: (r.end_user, r.tags) for r in records}
    assert by_endpoint == {
        "files": ("", "feature=nightly"),
        "batches.create": ("u-1842", "feature=search,tenant=acme"),
        "batches": ("u-1842", "feature=search,tenant=acme"),  # the settled cost
    }
    [settled] = [r for r in records if r.endpoint == "batches"]
    assert settled.cost_pusd > 0
