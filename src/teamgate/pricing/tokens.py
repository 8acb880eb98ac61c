"""An upper bound of the prompt tokens Groq will count for a chat request, without a tokenizer.

Every tokenizer Groq serves (byte-level BPE) yields at most one token per
UTF-8 byte, so the bytes of the text a chat template renders bound its token
count. The bound counts:

* every string in every message (content, role, name, tool_call_id, …) in UTF-8 bytes;
  content parts of type ``text`` count their text, image parts count
  :data:`IMAGE_PART_TOKENS` each (a generous constant: Groq's vision models use
  far fewer tokens per image than that, and counting a base64 URL's bytes would
  reserve megabytes of tokens); other non-string fields (``tool_calls``) count
  the bytes of their JSON encoding;
* :data:`PER_MESSAGE_TOKENS` of template markup around each message;
* :data:`REPLY_PRIMING_TOKENS` for the assistant header the template appends,
  plus :data:`TEMPLATE_PREAMBLE_TOKENS` for the system preamble some templates
  add by themselves (GPT-OSS's harmony header, Llama's date lines);
* the JSON bytes of ``tools``, ``tool_choice``, ``response_format`` (and the
  legacy ``functions``/``function_call``), plus :data:`TOOLS_PREAMBLE_TOKENS`
  when tools are present, for the instructions templates wrap around them.

The bound is deliberately loose (real counts are about a quarter of it for
English): the budget reserves it and settles to the real count afterwards.

>>> prompt_token_bound({"messages": [{"role": "user", "content": "hi"}]})
286
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

PER_MESSAGE_TOKENS = 8
REPLY_PRIMING_TOKENS = 16
TEMPLATE_PREAMBLE_TOKENS = 256
TOOLS_PREAMBLE_TOKENS = 128
IMAGE_PART_TOKENS = 6400

_REQUEST_TEXT_FIELDS = ("tools", "tool_choice", "response_format", "functions", "function_call")
_TOOL_FIELDS = ("tools", "functions")


def _text_bytes(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def _json_bytes(value: Any) -> int:
    try:
        return len(orjson.dumps(value))
    except TypeError:  # not JSON-encodable (cannot come from a parsed body); be generous
        return _text_bytes(repr(value))


def _content_bytes(content: Any) -> int:
    if isinstance(content, str):
        return _text_bytes(content)
    if content is None:
        return 0
    if not isinstance(content, list):
        return _json_bytes(content)
    total = 0
    for part in content:
        if isinstance(part, str):
            total += _text_bytes(part)
        elif isinstance(part, Mapping):
            kind = part.get("type")
            text = part.get("text")
            if kind == "text" and isinstance(text, str):
                total += _text_bytes(text)
            elif kind in ("image_url", "input_image") or "image_url" in part:
                total += IMAGE_PART_TOKENS
            else:
                total += _json_bytes(part)
        else:
            total += _json_bytes(part)
    return total


def _message_bytes(message: Any) -> int:
    if not isinstance(message, Mapping):
        return _json_bytes(message)
    total = 0
    for key, value in message.items():
        if isinstance(value, str):
            total += _text_bytes(value)
        elif key == "content":
            total += _content_bytes(value)
        elif value is not None:
            total += _json_bytes(value)
    return total


def prompt_token_bound(body: Mapping[str, Any]) -> int:
    """An upper bound of the prompt tokens of a chat completion request body.

    >>> prompt_token_bound({"messages": [{"role": "user", "content": "héllo"}]}) - 280
    10
    """
    total = REPLY_PRIMING_TOKENS + TEMPLATE_PREAMBLE_TOKENS
    messages = body.get("messages")
    if isinstance(messages, list):
        total += PER_MESSAGE_TOKENS * len(messages)
        for message in messages:
            total += _message_bytes(message)
    elif messages is not None:
        total += _json_bytes(messages)
    for field in _REQUEST_TEXT_FIELDS:
        value = body.get(field)
        if value is not None:
            total += _json_bytes(value)
    if any(body.get(field) for field in _TOOL_FIELDS):
        total += TOOLS_PREAMBLE_TOKENS
    return total
