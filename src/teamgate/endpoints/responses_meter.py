"""Reading usage from the Responses API's answers (whole, or its SSE events).

Streaming: the final ``response.completed`` (or ``response.incomplete`` /
``response.failed``) event carries ``response.usage`` with ``input_tokens`` and
``output_tokens``; text deltas are counted so a cut stream can be estimated.

>>> meter = ResponsesMeter()
>>> meter.feed(b'event: response.output_text.delta\\ndata: {"type":"response.output_text.delta",'
...            b'"delta":"tok"}\\n\\n')
>>> meter.feed(b'event: response.completed\\ndata: {"type":"response.completed","response":'
...            b'{"id":"resp_1","model":"m","usage":{"input_tokens":9,"output_tokens":1}}}\\n\\n')
>>> meter.usage, meter.done, meter.content_bytes
(Usage(prompt_tokens=9, completion_tokens=1, cached_tokens=0), True, 3)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from teamgate.lifecycle.streaming import ResponseFacts, StreamMeter, Usage, usage_from

FINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def responses_usage(obj: Mapping[str, Any] | None) -> Usage | None:
    """A :class:`Usage` from a Response object's ``usage``, or None."""
    if not isinstance(obj, Mapping):
        return None
    usage = obj.get("usage")
    if not isinstance(usage, Mapping):
        return None
    details = usage.get("input_tokens_details")
    cached = _count(details.get("cached_tokens")) if isinstance(details, Mapping) else 0
    return Usage(_count(usage.get("input_tokens")), _count(usage.get("output_tokens")), cached)


def responses_facts(data: bytes) -> ResponseFacts:
    """Usage, the response id and the served model of a whole Responses API answer.

    >>> facts = responses_facts(b'{"id":"resp_1","usage":{"input_tokens":3,"output_tokens":2}}')
    >>> facts.usage.total_tokens, facts.groq_id
    (5, 'resp_1')
    """
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return ResponseFacts(None, "", "")
    if not isinstance(obj, dict):
        return ResponseFacts(None, "", "")
    usage = responses_usage(obj) or usage_from(obj.get("usage"))
    groq_id, model = obj.get("id", ""), obj.get("model", "")
    return ResponseFacts(
        usage,
        groq_id if isinstance(groq_id, str) else "",
        model if isinstance(model, str) else "",
    )


class ResponsesMeter(StreamMeter):
    """A :class:`~teamgate.lifecycle.streaming.StreamMeter` for Responses API events."""

    __slots__ = ()

    def _skim(self, event: bytes) -> bool:
        return False  # every Responses event is parsed (chat's content chunks are not)

    def _chunk(self, obj: dict[str, Any]) -> None:
        kind = obj.get("type")
        if kind == "response.output_text.delta":
            delta = obj.get("delta")
            if isinstance(delta, str):
                self.content_bytes += len(delta.encode())
            return
        if kind == "error":
            self.error = obj
            return
        response = obj.get("response")
        if not isinstance(response, dict):
            return
        if not self.groq_id and isinstance(response.get("id"), str):
            self.groq_id = response["id"]
        if not self.model and isinstance(response.get("model"), str):
            self.model = response["model"]
        if kind in FINAL_EVENTS:
            self.done = True
            self.usage = responses_usage(response) or self.usage
