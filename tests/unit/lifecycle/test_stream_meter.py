"""The stream meter's skimming reads exactly what parsing every event would.

Each case is a stream; the skimming meter and one that parses every event as
JSON must agree on usage, id, model, error, done and the content bytes that a
cut stream is estimated from.
"""

from __future__ import annotations

import gc

import orjson
import pytest

from teamgate.endpoints.responses_meter import ResponsesMeter
from teamgate.lifecycle.streaming import StreamMeter


class ParsingMeter(StreamMeter):
    """Parses every event, as the meter did before it skimmed content chunks."""

    __slots__ = ()

    def _skim(self, event: bytes) -> bool:
        return False


def event(obj: object) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def chunk(delta: dict[str, object], **extra: object) -> bytes:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}
    return event({"id": "c1", "model": "m", "choices": [choice], **extra})


FIRST = chunk({"role": "assistant", "content": ""}, x_groq={"id": "req_1"})
USAGE = {"prompt_tokens": 7, "completion_tokens": 3}
FINAL = chunk({}, x_groq={"id": "req_1", "usage": USAGE})
DONE = b"data: [DONE]\n\n"

CASES = {
    "plain": [FIRST, chunk({"content": "tok"}), chunk({"content": " tok"}), FINAL, DONE],
    "non-ascii": [FIRST, chunk({"content": "héllo ✓"}), chunk({"content": "日本"}), FINAL, DONE],
    "escapes": [FIRST, chunk({"content": 'say "hi"\n'}), chunk({"content": "a\\b"}), FINAL],
    "json-escaped non-ascii": [
        FIRST,
        b'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"\\u00e9"}}]}\n\n',
        FINAL,
    ],
    "markers inside content": [
        FIRST,
        chunk({"content": '"usage" "error" "x_groq" "content":"'}),
        chunk({"content": "usage error x_groq"}),
        FINAL,
    ],
    "null and missing content": [FIRST, chunk({"content": None}), chunk({}), FINAL, DONE],
    "tool calls": [
        FIRST,
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"content":"x"}'}}]}),
        FINAL,
    ],
    "include_usage chunk": [
        FIRST,
        chunk({"content": "tok"}),
        event({"id": "c1", "model": "m", "choices": [], "usage": USAGE}),
        DONE,
    ],
    "error mid-stream": [
        FIRST,
        chunk({"content": "tok"}),
        event({"error": {"message": "boom", "type": "internal_server_error"}}),
    ],
    "x_groq error": [FIRST, chunk({"content": "tok"}, x_groq={"error": "over capacity"})],
    "spaced json": [FIRST, b'data: {"model": "m", "choices": [{"delta": {"content": "ab"}}]}\n\n'],
    "no model yet": [chunk({"content": "tok"}), chunk({"content": "tok"}), FINAL],
    "two choices": [
        FIRST,
        event(
            {
                "model": "m",
                "choices": [{"delta": {"content": "ab"}}, {"delta": {"content": "cde"}}],
            }
        ),
    ],
    "multi-line event": [FIRST, b'data: {"model":"m",\ndata: "choices":[]}\n\n', FINAL],
    "comment and event name": [FIRST, b": keep-alive\n\n", b"event: x\n" + chunk({"content": "t"})],
    "logprobs content list": [
        FIRST,
        chunk({"content": "ab"}, logprobs={"content": [{"token": "ab"}]}),
        FINAL,
    ],
}


def facts(meter: StreamMeter) -> tuple[object, ...]:
    return (meter.usage, meter.groq_id, meter.model, meter.error, meter.done, meter.content_bytes)


@pytest.mark.parametrize("split", [None, 1, 7, 64], ids=["events", "1B", "7B", "64B"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_skimming_reads_what_parsing_reads(name: str, split: int | None) -> None:
    data = b"".join(CASES[name])
    pieces = (
        CASES[name] if split is None else [data[i : i + split] for i in range(0, len(data), split)]
    )
    skimming, parsing = StreamMeter(), ParsingMeter()
    for piece in pieces:
        skimming.feed(piece)
        parsing.feed(piece)
    assert facts(skimming) == facts(parsing)


def test_content_chunks_are_skimmed_without_allocating_objects() -> None:
    """A plain content chunk allocates no container the garbage collector tracks."""
    meter = StreamMeter()
    meter.feed(FIRST)
    content = chunk({"content": " tok"})
    gc.collect()
    gc.disable()
    try:
        before = gc.get_count()[0]
        for _ in range(500):
            meter.feed(content)
        allocated = gc.get_count()[0] - before
    finally:
        gc.enable()
    assert meter.content_bytes == 500 * 4
    assert allocated < 50  # parsing each would allocate 4 containers: 2,000


def test_responses_events_are_all_parsed() -> None:
    meter = ResponsesMeter()
    meter.feed(b'data: {"type":"response.output_text.delta","delta":"abc"}\n\n')
    meter.feed(b'data: {"type":"response.created","response":{"id":"r1","model":"m"}}\n\n')
    meter.feed(b'data: {"type":"response.output_text.delta","delta":"de"}\n\n')
    assert (meter.content_bytes, meter.model, meter.groq_id) == (5, "m", "r1")
