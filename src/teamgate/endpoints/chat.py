"""``POST chat/completions``: the chat adapter of the metered lifecycle.

What is chat's own: the body is parsed and checked by :func:`~teamgate.policy.rules.plan_chat`,
its worst case is the prompt bound plus the cap, the bytes sent are the
client's own unless policy changed them (or a policy key is repeated or
escaped: then re-encoded from what was checked), and usage is read from the
body or the last SSE chunk. Everything else — limits, budget, forwarding,
settling, the one ledger record — is :class:`~teamgate.lifecycle.MeteredRequest`'s.
"""

from __future__ import annotations

import orjson

from teamgate.http.asgi import Receive, Scope, Send, read_body
from teamgate.http.body_guard import MAX_DEPTH, ambiguous_keys, too_deep
from teamgate.http.errors import InvalidRequest
from teamgate.ledger.records import ClientKey
from teamgate.lifecycle import Demand, MeteredRequest, TokenMeter
from teamgate.policy.rules import ChatPlan, plan_chat
from teamgate.pricing.tokens import prompt_token_bound
from teamgate.runtime import Gateway

CHAT_PATH = "/openai/v1/chat/completions"


def decode_body(raw: bytes) -> dict[str, object]:
    """The JSON object of a request body, or a Groq-shaped 400."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(
            f"Request body is not valid JSON: {exc}", code="invalid_json"
        ) from None
    if not isinstance(body, dict):
        raise InvalidRequest("Request body must be a JSON object", code="invalid_json")
    if too_deep(raw, body):
        raise InvalidRequest(
            f"Request body nests deeper than {MAX_DEPTH} levels", code="invalid_json"
        )
    return body


def upstream_body(raw: bytes, body: dict[str, object], plan: ChatPlan) -> bytes:
    """The bytes to send to Groq: the client's own, unless policy had to change them
    or a key policy reads is repeated or escaped (then re-encoded from the checked body)."""
    if plan.model_rewritten or ambiguous_keys(raw):
        changed = dict(body, model=plan.model)
        if plan.cap_injected:
            changed["max_completion_tokens"] = plan.max_completion_tokens
        return orjson.dumps(changed)
    if plan.cap_injected:
        # Insert the cap as the object's first member: no re-encoding of the rest.
        start = raw.index(b"{") + 1
        return b'%s"max_completion_tokens":%d,%s' % (
            raw[:start],
            plan.max_completion_tokens,
            raw[start:],
        )
    return raw


async def handle_chat(
    gw: Gateway, scope: Scope, receive: Receive, send: Send, key: ClientKey
) -> None:
    async with MeteredRequest(gw, scope, receive, send, key, "chat.completions") as mr:
        raw = await read_body(scope, receive, gw.settings.server.max_body_bytes)
        body = decode_body(raw)
        mr.attribute_body(body)
        mr.describe(str(body.get("model", "")))
        plan = plan_chat(gw.policies[key.team], body)
        mr.describe(plan.model_requested, plan.model, plan.stream)
        bound = prompt_token_bound(body)
        cap = plan.max_completion_tokens
        await mr.admit(
            Demand.for_tokens(gw.prices, plan.model, bound, cap, "max_completion_tokens")
        )
        meter = TokenMeter(gw.prices, plan.model, bound, cap)
        opened = await mr.forward(upstream_body(raw, body, plan), meter, path=CHAT_PATH)
        await mr.relay(opened, stream=plan.stream)
