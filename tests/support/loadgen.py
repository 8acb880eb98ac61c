"""A small concurrent HTTP client for tests: send many requests at once, keep every answer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp
import orjson


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]
    started: float
    ended: float

    def json(self) -> dict:  # type: ignore[type-arg]
        return orjson.loads(self.body)  # type: ignore[no-any-return]

    @property
    def code(self) -> str:
        return str(self.json()["error"]["code"]) if self.status != 200 else ""


def chat_body(
    model: str = "llama-3.1-8b-instant", *, stream: bool = False, **extra: object
) -> dict:  # type: ignore[type-arg]
    body: dict[str, object] = {
        "model": model,
        "messages": [{"role": "user", "content": "Say hello."}],
        "stream": stream,
    }
    body.update(extra)
    return body


async def _send_all(
    url: str,
    requests: Sequence[tuple[str, dict, dict]],  # type: ignore[type-arg]
    path: str = "/openai/v1/chat/completions",
) -> list[Answer]:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(secret: str, body: dict, headers: dict) -> Answer:  # type: ignore[type-arg]
            started = time.monotonic()
            async with session.post(
                url + path,
                data=orjson.dumps(body),
                headers={
                    "authorization": f"Bearer {secret}",
                    "content-type": "application/json",
                    **headers,
                },
                timeout=aiohttp.ClientTimeout(total=120),
            ) as resp:
                data = await resp.read()
                headers = {k.lower(): v for k, v in resp.headers.items()}
                return Answer(resp.status, data, headers, started, time.monotonic())

        return await asyncio.gather(*(one(*r) for r in requests))


def send_all(
    url: str,
    requests: Sequence[tuple[str, dict, dict]],  # type: ignore[type-arg]
    path: str = "/openai/v1/chat/completions",
) -> list[Answer]:
    """POST every (secret, body, headers) to ``path`` (chat completions) at once."""
    return asyncio.run(_send_all(url, requests, path))
