"""Simulated Groq Responses API (``POST responses``) and ``POST embeddings``.

Token counts are deterministic, as for chat: ``input`` (a string, or a list of
messages) counts like chat messages; the output is ``tok`` words, capped by
``max_output_tokens``.

>>> count_input_tokens("hello world!")
10
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from teamgate.simulator.completions import completion_text, count_prompt_tokens


def count_input_tokens(value: object) -> int:
    """The simulator's input token count for a Responses ``input`` or embeddings ``input``."""
    if isinstance(value, str):
        return count_prompt_tokens([{"role": "user", "content": value}])
    if isinstance(value, list):
        messages = [
            m if isinstance(m, dict) else {"role": "user", "content": str(m)} for m in value
        ]
        return count_prompt_tokens(messages)
    return 3


def _usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


class SimResponse:
    """One simulated Responses API answer."""

    def __init__(self, body: dict[str, Any], wanted: int) -> None:
        cap = body.get("max_output_tokens")
        capped = isinstance(cap, int) and not isinstance(cap, bool) and cap < wanted
        self.model = str(body.get("model"))
        self.input_tokens = count_input_tokens(body.get("input"))
        self.output_tokens = cap if capped and isinstance(cap, int) else wanted
        self.incomplete = capped
        self.id = f"resp_{uuid.uuid4().hex[:26]}"
        self.message_id = f"msg_{uuid.uuid4().hex[:26]}"
        self.created = int(time.time())
        self.max_output_tokens = cap if isinstance(cap, int) else None

    def _object(self, status: str, with_output: bool) -> dict[str, Any]:
        output: list[dict[str, Any]] = []
        if with_output:
            output.append(
                {
                    "type": "message",
                    "id": self.message_id,
                    "status": "completed",
                    "role": "assistant",
                    "content": [
                        {
                            "type": "output_text",
                            "text": completion_text(self.output_tokens),
                            "annotations": [],
                        }
                    ],
                }
            )
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created,
            "status": status,
            "error": None,
            "incomplete_details": {"reason": "max_output_tokens"} if self.incomplete else None,
            "instructions": None,
            "max_output_tokens": self.max_output_tokens,
            "model": self.model,
            "output": output,
            "parallel_tool_calls": True,
            "temperature": 1.0,
            "tool_choice": "auto",
            "tools": [],
            "top_p": 1.0,
            "usage": _usage(self.input_tokens, self.output_tokens) if with_output else None,
        }

    def body(self) -> bytes:
        status = "incomplete" if self.incomplete else "completed"
        return orjson.dumps(self._object(status, True))

    def events(self) -> list[bytes]:
        """The SSE events: created, one text delta per token, then ``response.completed``."""
        out: list[bytes] = []
        seq = 0

        def event(kind: str, payload: dict[str, Any]) -> None:
            nonlocal seq
            payload = {"type": kind, "sequence_number": seq, **payload}
            seq += 1
            out.append(b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n")

        event("response.created", {"response": self._object("in_progress", False)})
        for index in range(self.output_tokens):
            event(
                "response.output_text.delta",
                {
                    "item_id": self.message_id,
                    "output_index": 0,
                    "content_index": 0,
                    "delta": "tok" if index == 0 else " tok",
                },
            )
        status = "incomplete" if self.incomplete else "completed"
        event(f"response.{status}", {"response": self._object(status, True)})
        return out


def embeddings_tokens(body: dict[str, Any]) -> int:
    """The tokens an embeddings request is billed: its inputs' text only.

    >>> embeddings_tokens({"input": ["one", "two"]})
    2
    """
    raw = body.get("input")
    inputs = raw if isinstance(raw, list) else [raw]
    return max(sum(count_input_tokens(str(item)) - 7 for item in inputs), 1)


def embeddings_body(body: dict[str, Any]) -> bytes:
    """Groq's embeddings answer: one 8-dimension vector per input."""
    raw = body.get("input")
    inputs = raw if isinstance(raw, list) else [raw]
    tokens = embeddings_tokens(body)
    data = [
        {"object": "embedding", "index": i, "embedding": [0.125 * (i + 1)] * 8}
        for i in range(len(inputs))
    ]
    return orjson.dumps(
        {
            "object": "list",
            "data": data,
            "model": body.get("model"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )
