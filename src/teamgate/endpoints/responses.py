"""``POST responses`` (the Responses API) and ``POST embeddings``, with chat's policy.

Responses: ``model`` must be allowed (aliases resolve); ``max_output_tokens``
is the cap — above the team's ``max_tokens_per_request`` is 400, absent it is
set to that maximum. The prompt bound counts ``input`` and ``instructions`` as
chat messages (plus tools), so limits and the budget reserve the worst case as
for chat; the cost is settled from ``usage`` (``input_tokens``/``output_tokens``),
streaming from the final ``response.completed`` event.

Embeddings: an allowed model, priced at its input price per token; the bound
is the inputs' UTF-8 bytes.

Both are adapters of :class:`~teamgate.lifecycle.MeteredRequest`, and both
forward a body re-encoded from the object policy checked, so a repeated or
escaped key cannot make Groq read a value nobody checked.

Groq's Responses API is stateless ("doesn't support stateful conversations
yet", console.groq.com/docs/responses-api): ``previous_response_id``,
``conversation`` and ``store: true`` are refused with a 400 in Groq's own
shape for an unsupported property, before anything is reserved.

>>> from teamgate.config.schema import TeamConfig
>>> from teamgate.policy.rules import TeamPolicy
>>> policy = TeamPolicy.compile(TeamConfig("t", ("m",), 100), {})
>>> plan = plan_responses(policy, {"model": "m", "input": "hi"})
>>> plan.max_completion_tokens, plan.cap_injected
(100, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from teamgate.endpoints.chat import decode_body
from teamgate.endpoints.responses_meter import ResponsesMeter, responses_facts
from teamgate.http.asgi import Receive, Scope, Send, read_body
from teamgate.http.errors import InvalidRequest
from teamgate.ledger.records import ClientKey
from teamgate.lifecycle import Demand, MeteredRequest, TokenMeter
from teamgate.policy.rules import ChatPlan, TeamPolicy
from teamgate.pricing.tokens import prompt_token_bound
from teamgate.runtime import Gateway

RESPONSES_PATH = "/openai/v1/responses"
EMBEDDINGS_PATH = "/openai/v1/embeddings"
# Stateful Responses fields Groq does not support (it stores no responses).
STATEFUL_FIELDS = ("previous_response_id", "conversation")


def refuse_stateful(body: Mapping[str, Any]) -> None:
    """400, as Groq answers an unsupported property, for a stateful Responses request.

    >>> refuse_stateful({"input": "hi", "store": False})
    >>> try:
    ...     refuse_stateful({"previous_response_id": "resp_1"})
    ... except InvalidRequest as exc:
    ...     print(exc.status, exc.message[:46])
    400 'previous_response_id' : property 'previous_re
    """
    for field in STATEFUL_FIELDS:
        if body.get(field) is not None:
            raise _unsupported(field)
    if body.get("store") is True:
        raise _unsupported("store")


def _unsupported(field: str) -> InvalidRequest:
    return InvalidRequest(
        f"'{field}' : property '{field}' is unsupported (Groq's Responses API is stateless: "
        "send the whole conversation as 'input')",
        code="unsupported_parameter",
    )


def plan_responses(policy: TeamPolicy, body: Mapping[str, Any]) -> ChatPlan:
    """Check a Responses API body against the team's policy (400 / 403 as chat)."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' : property 'model' is missing or not a string")
    if body.get("input") is None:
        raise InvalidRequest("'input' : property 'input' is missing")
    refuse_stateful(body)
    stream = body.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequest("'stream' : value must be a boolean", code="invalid_type")
    real = policy.resolve_model(model)
    cap = body.get("max_output_tokens")
    if cap is not None:
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise InvalidRequest(
                "'max_output_tokens' : value must be a positive integer", code="invalid_value"
            )
        if cap > policy.max_tokens:
            raise InvalidRequest(
                f"'max_output_tokens' : {cap} exceeds the limit of {policy.max_tokens} tokens "
                f"per request for team `{policy.team}`",
                code="max_tokens_exceeded",
            )
    return ChatPlan(
        model_requested=model,
        model=real,
        max_completion_tokens=policy.max_tokens if cap is None else cap,
        stream=bool(stream),
        cap_injected=cap is None,
        model_rewritten=real != model,
    )


def responses_prompt_bound(body: Mapping[str, Any]) -> int:
    """The chat prompt bound of the equivalent messages (input, instructions, tools)."""
    raw = body.get("input")
    messages: list[Any] = [{"role": "user", "content": raw}] if isinstance(raw, str) else []
    if isinstance(raw, list):
        messages = list(raw)
    instructions = body.get("instructions")
    if isinstance(instructions, str):
        messages.insert(0, {"role": "system", "content": instructions})
    return prompt_token_bound(
        {"messages": messages, "tools": body.get("tools"), "response_format": body.get("text")}
    )


async def handle_responses(
    gw: Gateway, scope: Scope, receive: Receive, send: Send, key: ClientKey
) -> None:
    async with MeteredRequest(gw, scope, receive, send, key, "responses") as mr:
        raw = await read_body(scope, receive, gw.settings.server.max_body_bytes)
        body = decode_body(raw)
        mr.attribute_body(body)
        mr.describe(str(body.get("model", "")))
        plan = plan_responses(gw.policies[key.team], body)
        mr.describe(plan.model_requested, plan.model, plan.stream)
        bound = responses_prompt_bound(body)
        cap = plan.max_completion_tokens
        await mr.admit(Demand.for_tokens(gw.prices, plan.model, bound, cap, "max_output_tokens"))
        # Re-encoded from the checked object: Groq reads exactly what policy read.
        out = orjson.dumps(dict(body, model=plan.model, max_output_tokens=cap))
        meter = TokenMeter(
            gw.prices, plan.model, bound, cap, facts=responses_facts, stream_meter=ResponsesMeter
        )
        opened = await mr.forward(out, meter, path=RESPONSES_PATH)
        await mr.relay(opened, stream=plan.stream)


async def handle_embeddings(
    gw: Gateway, scope: Scope, receive: Receive, send: Send, key: ClientKey
) -> None:
    async with MeteredRequest(gw, scope, receive, send, key, "embeddings") as mr:
        raw = await read_body(scope, receive, gw.settings.server.max_body_bytes)
        body = decode_body(raw)
        mr.attribute_body(body)
        model = body.get("model")
        mr.describe(str(model or ""))
        if not isinstance(model, str) or not model:
            raise InvalidRequest("'model' : property 'model' is missing or not a string")
        real = gw.policies[key.team].resolve_model(model)
        inputs = body.get("input")
        if inputs is None:
            raise InvalidRequest("'input' : property 'input' is missing")
        mr.describe(model, real)
        bound = len(orjson.dumps(inputs)) + 16  # at most one token per byte
        await mr.admit(Demand(real, bound, gw.prices.worst_case(real, bound, 0)))
        out = orjson.dumps(dict(body, model=real))  # re-encoded from the checked object
        opened = await mr.forward(out, TokenMeter(gw.prices, real, bound, 0), path=EMBEDDINGS_PATH)
        await mr.relay(opened)
