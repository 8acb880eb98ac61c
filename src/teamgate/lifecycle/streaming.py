"""Reading usage out of Groq's responses without re-encoding them.

The proxy forwards Groq's bytes untouched; these readers only look.

* Non-streaming: :func:`read_usage` parses the JSON body once (pricing needs it).
* Streaming: :class:`StreamMeter` is fed every chunk as it passes. It splits
  server-sent events and keeps the usage from the last chunk's ``x_groq.usage``
  (or the ``include_usage`` chunk), the Groq request id, and a running count of
  completion tokens seen so far, so a stream that is cut off can still be
  charged an estimate. Only the events that can carry usage, an id, an error or
  the model are parsed as JSON; a plain content chunk (all but two of a Groq
  stream's events) is skimmed: its content's length is read from the bytes,
  with no object allocated (per-event dicts kept the garbage collector busy
  and stalled every open stream during its full passes).

>>> meter = StreamMeter()
>>> meter.feed(b'data: {"choices":[{"delta":{"content":"hi"}}],"x_groq":{"id":"req_1"}}\\n\\n')
>>> meter.feed(b'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1}}\\n\\n')
>>> meter.feed(b"data: [DONE]\\n\\n")
>>> (meter.usage.prompt_tokens, meter.usage.completion_tokens, meter.done, meter.groq_id)
(5, 1, True, 'req_1')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

_CONTENT = b'"content":"'
_NEEDS_PARSING = (b'"x_groq"', b'"usage"', b'"error"', b"\\")


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def usage_from(obj: Mapping[str, Any] | None) -> Usage | None:
    """A :class:`Usage` from Groq's ``usage`` object, or None if there is none."""
    if not isinstance(obj, Mapping):
        return None
    details = obj.get("prompt_tokens_details")
    cached = _int(details.get("cached_tokens")) if isinstance(details, Mapping) else 0
    return Usage(_int(obj.get("prompt_tokens")), _int(obj.get("completion_tokens")), cached)


@dataclass(frozen=True, slots=True)
class ResponseFacts:
    usage: Usage | None
    groq_id: str
    model: str


def read_usage(body: bytes) -> ResponseFacts:
    """Usage, ``x_groq.id`` and served model from a non-streaming response body."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ResponseFacts(None, "", "")
    if not isinstance(obj, dict):
        return ResponseFacts(None, "", "")
    x_groq = obj.get("x_groq")
    groq_id = x_groq.get("id", "") if isinstance(x_groq, dict) else ""
    model = obj.get("model", "")
    return ResponseFacts(
        usage_from(obj.get("usage")),
        groq_id if isinstance(groq_id, str) else "",
        model if isinstance(model, str) else "",
    )


class StreamMeter:
    """Watches an SSE stream of chat completion chunks (see module docstring)."""

    __slots__ = ("_buf", "content_bytes", "done", "error", "groq_id", "model", "usage")

    def __init__(self) -> None:
        self._buf = b""
        self.usage: Usage | None = None
        self.groq_id = ""
        self.model = ""
        self.content_bytes = 0
        self.done = False
        self.error: Any = None

    def feed(self, chunk: bytes) -> None:
        buf = self._buf + chunk if self._buf else chunk
        start = 0
        while True:
            end = buf.find(b"\n\n", start)
            if end < 0:
                break
            self._event(buf[start:end])
            start = end + 2
        self._buf = buf[start:]

    def _event(self, event: bytes) -> None:
        if self._skim(event):
            return
        for line in event.split(b"\n"):
            if not line.startswith(b"data:"):
                continue
            payload = line[5:].strip()
            if payload == b"[DONE]":
                self.done = True
                continue
            try:
                obj = orjson.loads(payload)
            except orjson.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                self._chunk(obj)

    def _skim(self, event: bytes) -> bool:
        """Account for a plain content chunk without decoding it; False: parse it.

        A chunk is skimmed when it is one compact ``data: {...}`` line, the model
        is known already, and nothing in it can be usage, an id or an error
        (those markers cannot occur inside a JSON string: its quotes are
        escaped). Its content's bytes between the quotes are the UTF-8 bytes
        the parser would count, as long as there is no escape in the chunk
        (then it is parsed). A chunk with no ``"content":"`` and no
        ``"content"`` (an empty delta) adds nothing.
        """
        if not self.model or not event.startswith(b"data: {") or b"\n" in event:
            return False
        for marker in _NEEDS_PARSING:
            if marker in event:
                return False
        at = event.find(_CONTENT)
        if at < 0:
            return b'"content"' not in event
        start = at + len(_CONTENT)
        end = event.find(b'"', start)
        if end < 0 or event.find(_CONTENT, end) >= 0:
            return False
        self.content_bytes += end - start
        return True

    def _chunk(self, obj: dict[str, Any]) -> None:
        if not self.model and isinstance(obj.get("model"), str):
            self.model = obj["model"]
        if "error" in obj:
            self.error = obj["error"]
        x_groq = obj.get("x_groq")
        if isinstance(x_groq, dict):
            if not self.groq_id and isinstance(x_groq.get("id"), str):
                self.groq_id = x_groq["id"]
            if "usage" in x_groq:
                self.usage = usage_from(x_groq["usage"]) or self.usage
            if "error" in x_groq:
                self.error = x_groq["error"]
        if obj.get("usage"):
            self.usage = usage_from(obj["usage"]) or self.usage
        choices = obj.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                delta = choice.get("delta") if isinstance(choice, dict) else None
                if isinstance(delta, dict):
                    content = delta.get("content")
                    if isinstance(content, str):
                        self.content_bytes += (
                            len(content.encode()) if not content.isascii() else len(content)
                        )

    def estimated_completion_tokens(self, cap: int) -> int:
        """An upper bound of the tokens streamed so far (no token is shorter than a byte)."""
        return min(cap, self.content_bytes)
