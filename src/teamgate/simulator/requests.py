"""Reading what a client sent: the headers the simulator cares about and the chat body.

>>> body = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}'
>>> request = parse_chat_request(body)
>>> request.model, request.cap, request.prompt_tokens, request.error
('m', 5, 8, None)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from teamgate.simulator.completions import count_prompt_tokens
from teamgate.simulator.state import RecordedRequest


@dataclass(slots=True)
class RequestHeaders:
    """The bearer key, the simulator's control headers, and (unless fast) all headers."""

    authorization: str | None = None
    key: str | None = None
    fault: str | None = None
    completion_tokens: int | None = None
    completion_tokens_error: str | None = None
    all: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: list[tuple[bytes, bytes]], *, full: bool) -> RequestHeaders:
        """Parse ASGI headers (names already lower-case)."""
        parsed = cls()
        everything = parsed.all
        for name, value in raw:
            if name == b"authorization":
                parsed.authorization = value.decode("latin-1")
                scheme, _, token = parsed.authorization.partition(" ")
                if scheme.lower() == "bearer" and token.strip():
                    parsed.key = token.strip()
            elif name == b"x-sim-fault":
                parsed.fault = value.decode("latin-1")
            elif name == b"x-sim-completion-tokens":
                text = value.decode("latin-1").strip()
                if text.isdigit():
                    parsed.completion_tokens = int(text)
                else:
                    parsed.completion_tokens_error = (
                        f"x-sim-completion-tokens must be a non-negative integer, got {text!r}"
                    )
            if full:
                key = name.decode("latin-1")
                text_value = value.decode("latin-1")
                previous = everything.get(key)
                everything[key] = text_value if previous is None else f"{previous}, {text_value}"
        return parsed


@dataclass(slots=True)
class ChatRequest:
    """A chat completion request body, with what the simulator derives from it."""

    body: Any = None
    model: str | None = None
    stream: bool = False
    include_usage: bool = False
    max_completion_tokens: int | None = None
    max_tokens: int | None = None
    prompt_tokens: int = 3
    error: str | None = None

    @property
    def cap(self) -> int | None:
        """The output cap: ``max_completion_tokens``, else ``max_tokens``, else None."""
        if self.max_completion_tokens is not None:
            return self.max_completion_tokens
        return self.max_tokens

    def fill(self, record: RecordedRequest) -> None:
        """Copy the interesting fields into a recording."""
        record.model = self.model
        record.stream = self.stream
        record.max_completion_tokens = self.max_completion_tokens
        record.max_tokens = self.max_tokens


def _cap(body: dict[str, Any], name: str) -> tuple[int | None, str | None]:
    value = body.get(name)
    if value is None:
        return None, None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return None, f"'{name}' must be a positive integer"
    return value, None


def parse_chat_request(raw: bytes) -> ChatRequest:
    """Parse a body; problems land in ``error`` (answered 400 after auth and faults)."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return ChatRequest(error="We could not parse the JSON body of your request.")
    if not isinstance(body, dict):
        return ChatRequest(body=body, error="The request body must be a JSON object.")
    request = ChatRequest(body=body)
    model = body.get("model")
    if isinstance(model, str):
        request.model = model
    request.stream = body.get("stream") is True
    options = body.get("stream_options")
    request.include_usage = (
        request.stream and isinstance(options, dict) and options.get("include_usage") is True
    )
    request.max_completion_tokens, cap_error = _cap(body, "max_completion_tokens")
    request.max_tokens, tokens_error = _cap(body, "max_tokens")
    messages = body.get("messages")
    request.prompt_tokens = count_prompt_tokens(messages)
    if request.model is None:
        request.error = "'model' : property 'model' is missing"
    elif not isinstance(messages, list) or not messages:
        request.error = "'messages' : property 'messages' is missing or empty"
    else:
        request.error = cap_error or tokens_error
    return request
