"""The Responses API and embeddings through teamgate: capped and charged like chat."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from teamgate.pricing.prices import PriceTable
from teamgate.simulator import Simulator
from tests.conftest import RunningGateway, start_gateway
from tests.support.ledger_wait import records_after
from tests.support.sdk_clients import error_of, openai_client

MODEL = "llama-3.1-8b-instant"
EMBED = "nomic-embed-text-v1_5"
PATCH: dict[str, Any] = {
    "pricing": {EMBED: {"input": "0.02", "output": "0"}},
    "teams": {"analytics": {"allowed_models": [MODEL, EMBED]}},
}


@pytest.fixture
def gw(simulator: Simulator, tmp_path: Path) -> Iterator[RunningGateway]:
    simulator._models = simulator._models | {EMBED}
    yield from start_gateway(simulator, tmp_path, PATCH)


def endpoint_records(gw: RunningGateway, endpoint: str, count: int = 1) -> list[Any]:
    return [r for r in records_after(gw, count) if r.endpoint == endpoint]


def test_responses_non_streaming_is_capped_and_charged(gw: RunningGateway) -> None:
    client = openai_client(gw, gw.key("analytics"))
    reply = client.responses.create(model="fast", input="Hello there")
    assert reply.output_text.startswith("tok")
    sent = gw.simulator.state.requests()[-1]
    assert sent.path == "/openai/v1/responses"
    assert sent.body["max_output_tokens"] == 512 and sent.body["model"] == MODEL
    [rec] = endpoint_records(gw, "responses")
    assert reply.usage is not None
    assert (rec.prompt_tokens, rec.completion_tokens) == (
        reply.usage.input_tokens,
        reply.usage.output_tokens,
    )
    prices = PriceTable.from_settings(gw.settings)
    assert rec.cost_pusd == prices.cost(MODEL, rec.prompt_tokens, rec.completion_tokens) > 0
    assert rec.model_requested == "fast" and rec.usage_source == "reported"


def test_responses_streaming_usage_from_the_completed_event(gw: RunningGateway) -> None:
    client = openai_client(gw, gw.key("analytics"))
    events = list(
        client.responses.create(model=MODEL, input="Hi", max_output_tokens=5, stream=True)
    )
    final = events[-1]
    assert final.type in ("response.completed", "response.incomplete")
    usage = final.response.usage
    assert usage is not None
    [rec] = endpoint_records(gw, "responses")
    assert rec.streamed and rec.usage_source == "reported"
    assert (rec.prompt_tokens, rec.completion_tokens) == (usage.input_tokens, 5)
    assert gw.simulator.state.requests()[-1].body["max_output_tokens"] == 5


def test_responses_cap_above_team_max_and_model_outside_allowlist(gw: RunningGateway) -> None:
    client = openai_client(gw, gw.key("analytics"))
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model=MODEL, input="Hi", max_output_tokens=513)
    assert error_of(err.value)["code"] == "max_tokens_exceeded"
    with pytest.raises(openai.PermissionDeniedError) as denied:
        client.responses.create(model="llama-3.3-70b-versatile", input="Hi")
    assert error_of(denied.value)["code"] == "model_not_allowed"
    assert gw.simulator.state.request_count() == 0


def test_embeddings_of_an_allowed_priced_model(gw: RunningGateway) -> None:
    client = openai_client(gw, gw.key("analytics"))
    result = client.embeddings.create(model=EMBED, input=["one", "two"])
    assert len(result.data) == 2
    [rec] = endpoint_records(gw, "embeddings")
    assert rec.prompt_tokens == result.usage.prompt_tokens
    assert rec.cost_pusd == rec.prompt_tokens * 20_000  # $0.02 per 1M tokens
    with pytest.raises(openai.PermissionDeniedError):
        openai_client(gw, gw.key("chatbot")).embeddings.create(model=EMBED, input="x")


def test_unknown_groq_path_is_404_naming_it(gw: RunningGateway) -> None:
    client = openai_client(gw, gw.key("analytics"))
    with pytest.raises(openai.NotFoundError) as err:
        client.post("/fine_tunes", cast_to=object, body={})
    assert "/openai/v1/fine_tunes" in error_of(err.value)["message"]
    with pytest.raises(openai.NotFoundError):
        client.post("/audio/speech", cast_to=object, body={"model": "x", "input": "hi"})
    assert gw.simulator.state.request_count() == 0


@pytest.mark.parametrize(
    "stateful",
    [{"previous_response_id": "resp_123"}, {"store": True}, {"conversation": "conv_1"}],
)
def test_stateful_responses_are_refused_as_groq_refuses_them(
    gw: RunningGateway, stateful: dict[str, Any]
) -> None:
    client = openai_client(gw, gw.key("analytics"))
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model=MODEL, input="Hi", **stateful)
    error = error_of(err.value)
    assert error["code"] == "unsupported_parameter"
    assert f"'{next(iter(stateful))}' : property" in error["message"]
    assert gw.simulator.state.request_count() == 0
    [rec] = endpoint_records(gw, "responses")
    assert (rec.status, rec.refusal, rec.cost_pusd) == (400, "unsupported_parameter", 0)
    # store: false is what Groq does anyway.
    assert client.responses.create(model=MODEL, input="Hi", store=False).output_text
