"""The prompt-token upper bound: never below the bytes a tokenizer could turn into tokens."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from teamgate.pricing.tokens import (
    IMAGE_PART_TOKENS,
    PER_MESSAGE_TOKENS,
    REPLY_PRIMING_TOKENS,
    TEMPLATE_PREAMBLE_TOKENS,
    TOOLS_PREAMBLE_TOKENS,
    prompt_token_bound,
)

FIXED = REPLY_PRIMING_TOKENS + TEMPLATE_PREAMBLE_TOKENS


def utf8(text: str) -> int:
    return len(text.encode("utf-8"))


text = st.text(st.characters(codec="utf-8"), max_size=200)
text_part = st.builds(lambda t: {"type": "text", "text": t}, text)
image_part = st.just({"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}})
content = st.one_of(text, st.lists(st.one_of(text_part, image_part), max_size=4))
message = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant", "tool"]), "content": content},
    optional={"name": text, "tool_call_id": text},
)


def content_bytes(value: Any) -> int:
    """What any tokenizer could at most produce from a content value: its text bytes."""
    if isinstance(value, str):
        return utf8(value)
    return sum(utf8(part["text"]) for part in value if part["type"] == "text")


@settings(max_examples=300, deadline=None)
@given(st.lists(message, max_size=8))
def test_bound_covers_every_byte_of_every_message(messages: list[dict[str, Any]]) -> None:
    bound = prompt_token_bound({"messages": messages})
    text_bytes = sum(
        content_bytes(m["content"]) + utf8(m.get("name", "")) + utf8(m.get("tool_call_id", ""))
        for m in messages
    )
    images = sum(
        1
        for m in messages
        if isinstance(m["content"], list)
        for part in m["content"]
        if part["type"] == "image_url"
    )
    overhead = FIXED + PER_MESSAGE_TOKENS * len(messages)
    assert bound >= text_bytes + images * IMAGE_PART_TOKENS + overhead
    # And it is exactly that plus the role names: nothing is counted twice.
    roles = sum(utf8(m["role"]) for m in messages)
    assert bound == text_bytes + images * IMAGE_PART_TOKENS + overhead + roles


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"messages": []}, FIXED),
        ({}, FIXED),
        ({"messages": [{"role": "user", "content": "hi"}]}, FIXED + 8 + 4 + 2),
        # Multi-byte characters count their UTF-8 bytes: "é" 2, "日" 3, "😀" 4.
        ({"messages": [{"role": "user", "content": "é日😀"}]}, FIXED + 8 + 4 + 9),
        ({"messages": [{"role": "user", "content": None}]}, FIXED + 8 + 4),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "describe"},
                            {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                            {"type": "image_url", "image_url": {"url": "data:" + "A" * 10**6}},
                        ],
                    }
                ]
            },
            FIXED + 8 + 4 + 8 + 2 * IMAGE_PART_TOKENS,
        ),
    ],
)
def test_bound_table(body: dict[str, Any], expected: int) -> None:
    assert prompt_token_bound(body) == expected


def test_tool_calls_count_their_json() -> None:
    calls = [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Zürich"}'},
        }
    ]
    body = {"messages": [{"role": "assistant", "content": None, "tool_calls": calls}]}
    expected = FIXED + 8 + len("assistant") + len(orjson.dumps(calls))
    assert prompt_token_bound(body) == expected
    assert len(orjson.dumps(calls)) > utf8('{"city": "Zürich"}') + len("get_weather")


def test_tools_tool_choice_and_response_format_count_their_json() -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Find a thing",
                "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
            },
        }
    ]
    response_format = {"type": "json_object"}
    base = {"messages": [{"role": "user", "content": "x"}]}
    without = prompt_token_bound(base)
    with_tools = prompt_token_bound(
        {**base, "tools": tools, "tool_choice": "auto", "response_format": response_format}
    )
    assert with_tools - without == (
        len(orjson.dumps(tools))
        + len(b'"auto"')
        + len(orjson.dumps(response_format))
        + TOOLS_PREAMBLE_TOKENS
    )
    # An empty tools list adds its two bytes but no tool preamble.
    assert prompt_token_bound({**base, "tools": []}) - without == 2


def test_bound_grows_with_every_message() -> None:
    one = {"messages": [{"role": "user", "content": "a"}]}
    two = {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": ""}]}
    assert prompt_token_bound(two) - prompt_token_bound(one) == PER_MESSAGE_TOKENS + 4
