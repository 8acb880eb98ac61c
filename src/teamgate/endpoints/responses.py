"""``POST responses`` (the Responses API) and ``POST embeddings``, with chat's policy.

Responses: ``model`` must be allowed (aliases resolve); ``max_output_tokens``
is the cap — above the team's ``max_tokens_per_request`` is 400, absent it is
set to that maximum. The prompt bound counts ``input`` and ``instructions`` as
chat messages (plus tools), so limits and the budget reserve the worst case as
for chat; the cost is settled from ``usage`` (``input_tokens``/``output_tokens``),
streaming from the final ``response.completed`` event.

Embeddings: an allowed model, priced at its input price per token; the bound
is the inputs' UTF-8 bytes.

>>> from teamgate.config.schema import TeamConfig
>>> from teamgate.policy import TeamPolicy
>>> policy = TeamPolicy.compile(TeamConfig("t", ("m",), 100), {})
>>> plan = plan_responses(policy, {"model": "m", "input": "hi"})
>>> plan.max_completion_tokens, plan.cap_injected
(100, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from teamgate.asgi import Receive, Scope, Send, encode_headers, read_body, send_bytes
from teamgate.endpoints.relay import new_exchange, response_headers
from teamgate.endpoints.responses_meter import ResponsesMeter, responses_usage
from teamgate.errors import BudgetExceeded, GatewayError, InvalidRequest, RateLimited
from teamgate.ledger.records import ClientKey
from teamgate.policy import ChatPlan, TeamPolicy
from teamgate.proxy import (
    ClientWatch,
    Exchange,
    decode_body,
    open_upstream,
    record,
    relay_stream,
    team_headers,
)
from teamgate.runtime import Gateway
from teamgate.streaming import Usage, usage_from
from teamgate.tokens import prompt_token_bound

RESPONSES_PATH = "/openai/v1/responses"
EMBEDDINGS_PATH = "/openai/v1/embeddings"


def plan_responses(policy: TeamPolicy, body: Mapping[str, Any]) -> ChatPlan:
    """Check a Responses API body against the team's policy (400 / 403 as chat)."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' : property 'model' is missing or not a string")
    if body.get("input") is None:
        raise InvalidRequest("'input' : property 'input' is missing")
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


def _refused(gw: Gateway, ex: Exchange, exc: GatewayError, refusal: str, endpoint: str) -> None:
    record(gw, ex, status=exc.status, refusal=refusal, endpoint=endpoint)
    exc.headers.update(team_headers(gw, ex.key.team, gw.limiter.headers(ex.key.team)))


async def handle_responses(
    gw: Gateway, scope: Scope, receive: Receive, send: Send, key: ClientKey
) -> None:
    ex = new_exchange(key)
    raw = await read_body(scope, receive, gw.settings.server.max_body_bytes)
    try:
        body = decode_body(raw)
        ex.model_requested = str(body.get("model", ""))[:200]
        plan = plan_responses(gw.policies[key.team], body)
    except GatewayError as exc:
        _refused(gw, ex, exc, exc.code, "responses")
        raise
    ex.model, ex.streamed = plan.model, plan.stream
    changed = dict(body, model=plan.model, max_output_tokens=plan.max_completion_tokens)
    out = orjson.dumps(changed) if plan.model_rewritten or plan.cap_injected else raw
    bound = responses_prompt_bound(body)
    await _metered(gw, ex, scope, receive, send, out, plan, bound, RESPONSES_PATH, "responses")


async def handle_embeddings(
    gw: Gateway, scope: Scope, receive: Receive, send: Send, key: ClientKey
) -> None:
    ex = new_exchange(key)
    raw = await read_body(scope, receive, gw.settings.server.max_body_bytes)
    try:
        body = decode_body(raw)
        model = body.get("model")
        ex.model_requested = str(model or "")[:200]
        if not isinstance(model, str) or not model:
            raise InvalidRequest("'model' : property 'model' is missing or not a string")
        real = gw.policies[key.team].resolve_model(model)
        inputs = body.get("input")
        if inputs is None:
            raise InvalidRequest("'input' : property 'input' is missing")
    except GatewayError as exc:
        _refused(gw, ex, exc, exc.code, "embeddings")
        raise
    ex.model = real
    plan = ChatPlan(model, real, 0, False, False, real != model)
    out = orjson.dumps(dict(body, model=real)) if plan.model_rewritten else raw
    bound = len(orjson.dumps(inputs)) + 16  # at most one token per byte
    await _metered(gw, ex, scope, receive, send, out, plan, bound, EMBEDDINGS_PATH, "embeddings")


async def _metered(
    gw: Gateway,
    ex: Exchange,
    scope: Scope,
    receive: Receive,
    send: Send,
    out: bytes,
    plan: ChatPlan,
    bound: int,
    path: str,
    endpoint: str,
) -> None:
    """Limits → budget → Groq → meter → ledger, as chat's pipeline."""
    team = ex.key.team
    worst = gw.prices.worst_case(plan.model, bound, plan.max_completion_tokens)
    gone = ClientWatch(receive)
    try:
        ticket = await gw.limiter.admit(
            team, plan.model, bound + plan.max_completion_tokens, client_gone=gone
        )
    except RateLimited as exc:
        _refused(gw, ex, exc, exc.reason, endpoint)
        gone.close()
        raise
    try:
        try:
            reservation = await gw.budget.reserve(team, worst, client_gone=gone.event)
        except BudgetExceeded as exc:
            fit = gw.prices.max_completion_fit(plan.model, bound, exc.available_pusd)
            exc.add_fit(fit, field="max_output_tokens")
            _refused(gw, ex, exc, exc.reason, endpoint)
            raise
        usage: Usage | None = None
        cost = 0
        try:
            resp, _ = await open_upstream(gw, ex, scope, out, path=path)
            try:
                gw.limiter.observe_upstream(plan.model, resp.headers)
                headers = response_headers(gw, team, resp, ticket.headers())
                ctype = resp.headers.get("content-type", "")
                if resp.status == 200 and plan.stream and ctype.startswith("text/event-stream"):
                    usage, cost, _ = await relay_stream(
                        gw,
                        ex,
                        send,
                        resp,
                        headers,
                        plan,
                        bound,
                        gone,
                        meter=ResponsesMeter(),
                        endpoint=endpoint,
                    )
                else:
                    data = await resp.read()
                    await send_bytes(send, resp.status, data, encode_headers(headers))
                    usage, cost = _whole_usage(gw, ex, resp.status, data, plan, bound, endpoint)
            finally:
                resp.release()
        finally:
            if cost:
                await reservation.settle(cost)
            else:
                await reservation.release()
            await ticket.correct(usage.total_tokens if usage else 0)
    finally:
        await ticket.release()
        gone.close()


def _whole_usage(
    gw: Gateway,
    ex: Exchange,
    status: int,
    data: bytes,
    plan: ChatPlan,
    bound: int,
    endpoint: str,
) -> tuple[Usage | None, int]:
    if status != 200:
        record(gw, ex, status=status, endpoint=endpoint)
        return None, 0
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        obj = None
    obj = obj if isinstance(obj, dict) else None
    usage = responses_usage(obj) if endpoint == "responses" else None
    if usage is None and obj is not None:
        usage = usage_from(obj.get("usage"))
    source = "reported"
    if usage is None:
        usage, source = Usage(bound, plan.max_completion_tokens), "estimated"
    cost = gw.prices.cost(
        plan.model, usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens
    )
    groq_id = obj.get("id", "") if obj is not None else ""
    model = obj.get("model", "") if obj is not None else ""
    record(
        gw,
        ex,
        status=200,
        usage=usage,
        cost=cost,
        groq_id=groq_id if isinstance(groq_id, str) else "",
        model_served=model if isinstance(model, str) else "",
        source=source,
        endpoint=endpoint,
    )
    return usage, cost
