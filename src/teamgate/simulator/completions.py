"""Deterministic chat completions in Groq's exact shape, whole or as SSE chunks.

Token counts follow from the request alone, so tests can predict them:
``prompt_tokens = sum(ceil(utf8_bytes(content) / 4) + 4 for each message) + 3``;
the completion is ``n`` words ``tok`` (one word = one token).

>>> count_prompt_tokens([{"role": "user", "content": "hello world!"}])
10
>>> completion_text(3)
'tok tok tok'
"""

from __future__ import annotations

import itertools
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import orjson

DONE_EVENT = b"data: [DONE]\n\n"
_WORD = "tok"


def _content_bytes(content: object) -> int:
    if isinstance(content, str):
        return len(content.encode())
    if isinstance(content, list):
        total = 0
        for part in content:
            if isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    total += len(text.encode())
        return total
    return 0


def count_prompt_tokens(messages: object) -> int:
    """The simulator's prompt token count for a ``messages`` list."""
    total = 3
    if isinstance(messages, list):
        for message in messages:
            content = message.get("content") if isinstance(message, dict) else None
            total += -(-_content_bytes(content) // 4) + 4
    return total


def completion_text(tokens: int) -> str:
    """``tokens`` words ``tok`` joined by spaces."""
    return " ".join([_WORD] * tokens)


def system_fingerprint(model: str) -> str:
    """A stable ``fp_`` + 10 hex per model, as Groq's."""
    return f"fp_{zlib.crc32(model.encode()):08x}{len(model) % 256:02x}"


def new_request_id() -> str:
    """A fresh ``req_`` id, for the simulator's less frequent endpoints (batches, audio)."""
    return "req_01" + uuid.uuid4().hex[:24]


class IdSource:
    """Groq-looking ids, cheaply: a random prefix per simulator plus a counter.

    >>> ids = IdSource()
    >>> request_id = ids.request_id()
    >>> len(request_id), request_id.startswith("req_01")
    (30, True)
    >>> len(ids.completion_id(request_id)) == len("chatcmpl-") + 36
    True
    """

    def __init__(self) -> None:
        seed = uuid.uuid4().hex
        self._request_prefix = "req_01" + seed[:12]
        self._completion_prefix = (
            f"chatcmpl-{seed[12:20]}-{seed[20:24]}-4{seed[25:28]}-a{seed[29:32]}-"
        )
        self._counter = itertools.count(int.from_bytes(uuid.uuid4().bytes[:5]))

    def request_id(self) -> str:
        """``req_01`` + 24 lower-case hex characters, unique per simulator."""
        return f"{self._request_prefix}{next(self._counter) & 0xFFFFFFFFFFFF:012x}"

    def completion_id(self, request_id: str) -> str:
        """``chatcmpl-`` + a UUID-shaped id matching ``request_id``."""
        return self._completion_prefix + request_id[-12:]


@dataclass(slots=True)
class Completion:
    """One simulated answer: its ids, token counts and finish reason."""

    model: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    request_id: str
    completion_id: str
    created: int
    fingerprint: str

    @classmethod
    def plan(
        cls,
        *,
        model: str,
        prompt_tokens: int,
        cap: int | None,
        wanted: int,
        request_id: str,
        completion_id: str,
        fingerprint: str,
    ) -> Completion:
        """``wanted`` tokens unless ``cap`` is lower (then finish_reason ``length``)."""
        capped = cap is not None and cap < wanted
        return cls(
            model=model,
            prompt_tokens=prompt_tokens,
            completion_tokens=cap if capped and cap is not None else wanted,
            finish_reason="length" if capped else "stop",
            request_id=request_id,
            completion_id=completion_id,
            created=int(time.time()),
            fingerprint=fingerprint,
        )

    def usage(self) -> dict[str, float | int]:
        """Groq's ``usage`` object with deterministic timings (500 tokens/s output)."""
        prompt_time = round(self.prompt_tokens * 0.00002, 9)
        completion_time = round(self.completion_tokens * 0.002, 9)
        queue_time = 0.000123
        return {
            "queue_time": queue_time,
            "prompt_tokens": self.prompt_tokens,
            "prompt_time": prompt_time,
            "completion_tokens": self.completion_tokens,
            "completion_time": completion_time,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "total_time": round(prompt_time + completion_time, 9),
        }

    def body(self, text: str | None = None) -> bytes:
        """The non-streaming response body."""
        content = completion_text(self.completion_tokens) if text is None else text
        return orjson.dumps(
            {
                "id": self.completion_id,
                "object": "chat.completion",
                "created": self.created,
                "model": self.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "logprobs": None,
                        "finish_reason": self.finish_reason,
                    }
                ],
                "usage": self.usage(),
                "usage_breakdown": None,
                "system_fingerprint": self.fingerprint,
                "x_groq": {"id": self.request_id},
                "service_tier": "on_demand",
            }
        )

    def _chunk(self, choices: list[object], **extra: object) -> bytes:
        chunk: dict[str, object] = {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": self.fingerprint,
            "choices": choices,
        }
        chunk.update(extra)
        return b"data: " + orjson.dumps(chunk) + b"\n\n"

    def stream(self, chunk_tokens: int, *, include_usage: bool, with_usage: bool) -> StreamEvents:
        """The SSE events of this completion (``with_usage=False``: Groq forgot the usage)."""
        role = self._chunk(
            [_choice({"role": "assistant", "content": ""}, None)],
            x_groq={"id": self.request_id},
        )
        prefix = self._chunk([_choice({"content": "\x00"}, None)])
        head, _, tail = prefix.partition(b'"\\u0000"')
        contents = [
            head + orjson.dumps(text) + tail
            for text in _chunk_texts(self.completion_tokens, chunk_tokens)
        ]
        x_groq: dict[str, object] = {"id": self.request_id}
        usage = self.usage()
        if with_usage:
            x_groq["usage"] = usage
        final = self._chunk([_choice({}, self.finish_reason)], x_groq=x_groq)
        usage_chunk = self._chunk([], usage=usage) if include_usage and with_usage else None
        return StreamEvents(role, contents, final, usage_chunk)

    def error_event(self) -> bytes:
        """A mid-stream error event (a top-level ``error``, as Groq sends)."""
        return (
            b"data: "
            + orjson.dumps(
                {
                    "error": {
                        "message": "The server had an error while processing your request.",
                        "type": "internal_server_error",
                        "code": "internal_server_error",
                    }
                }
            )
            + b"\n\n"
        )


def _choice(delta: dict[str, str], finish_reason: str | None) -> dict[str, object]:
    return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}


def _chunk_texts(tokens: int, chunk_tokens: int) -> Iterator[str]:
    full = completion_text(chunk_tokens)
    done = 0
    while done < tokens:
        size = min(chunk_tokens, tokens - done)
        text = full if size == chunk_tokens else completion_text(size)
        yield text if done == 0 else " " + text
        done += size


@dataclass(slots=True)
class StreamEvents:
    """The encoded SSE events of one streamed completion, in order (``[DONE]`` not included)."""

    role: bytes
    contents: list[bytes]
    final: bytes
    usage: bytes | None

    def all(self) -> list[bytes]:
        """Every event in order, ending with ``[DONE]``."""
        events = [self.role, *self.contents, self.final]
        if self.usage is not None:
            events.append(self.usage)
        events.append(DONE_EVENT)
        return events
