"""The official SDKs (Groq's and OpenAI's) pointed at a gateway, and an SDK error's body.

``close_sdk_clients`` is an autouse fixture: a test module that imports it closes every SDK
client's HTTP pool after each of its tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import groq
import httpx
import openai
import pytest

from tests.conftest import RunningGateway


def error_of(exc: groq.APIStatusError | openai.APIStatusError) -> dict[str, str]:
    """The ``error`` object of an SDK exception's body."""
    body = exc.body
    assert isinstance(body, dict)
    inner = body.get("error", body)
    assert isinstance(inner, dict)
    return inner


_OPEN: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def close_sdk_clients() -> Iterator[None]:
    """Close every SDK client's HTTP pool after each test (no unclosed sockets)."""
    yield
    while _OPEN:
        _OPEN.pop().close()


def http_client() -> httpx.Client:
    """An HTTP client for an SDK client, closed after the test by ``close_sdk_clients``."""
    client = httpx.Client()
    _OPEN.append(client)
    return client


def groq_client(gw: RunningGateway, key: str) -> groq.Groq:
    return groq.Groq(api_key=key, base_url=gw.url, max_retries=0, http_client=http_client())


def openai_client(gw: RunningGateway, key: str, prefix: str = "/openai/v1") -> openai.OpenAI:
    return openai.OpenAI(
        api_key=key, base_url=gw.url + prefix, max_retries=0, http_client=http_client()
    )
