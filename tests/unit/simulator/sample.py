"""Sample keys and request bodies shared by the simulator tests."""

from __future__ import annotations

KEY = "gsk_test_key_0001"
OTHER_KEY = "gsk_test_key_0002"
MODEL = "llama-3.1-8b-instant"
CHAT = "/openai/v1/chat/completions"


def chat_body(content: str = "hello", **extra: object) -> dict[str, object]:
    """A minimal chat completion request for ``MODEL``."""
    return {"model": MODEL, "messages": [{"role": "user", "content": content}], **extra}


def sse_payloads(text: str) -> list[str]:
    """The ``data:`` payloads of an SSE body, in order."""
    return [line.removeprefix("data: ") for line in text.split("\n\n") if line.startswith("data: ")]
