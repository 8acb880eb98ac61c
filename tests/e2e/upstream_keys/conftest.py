"""Helpers for the upstream-key tests: a slow simulator, a webhook catcher, a load driver
(a running gateway and its event loop: tests/support/gateway_context.py)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import yaml

from teamgate.http.serving import ServerThread
from teamgate.simulator import Simulator, SimulatorConfig, create_simulator
from tests.conftest import BASE_CONFIG, RunningGateway, merge
from tests.support.gateway_context import MSG


@pytest.fixture
def slow_simulator() -> Iterator[Simulator]:
    """A simulator that takes 20 ms per answer, so that requests pile up in flight."""
    sim = create_simulator(
        SimulatorConfig(
            latency_s=0.02,
            completion_tokens=4,
            # Far above what the tests send: Groq's rate-limit feedback must not slow them.
            ratelimit_limit_requests=10**9,
            ratelimit_limit_tokens=10**9,
        )
    )
    with ServerThread(sim.app) as url:
        sim.url = url  # type: ignore[attr-defined]
        yield sim


@dataclass
class Webhook:
    """Collects alert webhook POSTs; ``wait_for(kind)`` blocks until one of that kind came."""

    url: str = ""
    posts: list[dict[str, Any]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    async def app(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                while (message := await receive())["type"] != "lifespan.shutdown":
                    await send({"type": "lifespan.startup.complete"})
                await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        with self.arrived:
            self.raw.append(body)
            self.posts.append(orjson.loads(body))
            self.arrived.notify_all()
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def wait_for(self, kind: str, timeout_s: float = 10.0) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next((p for p in self.posts if p.get("kind") == kind), None)

        with self.arrived:
            assert self.arrived.wait_for(lambda: found() is not None, timeout_s), self.posts
            post = found()
            assert post is not None
            return post


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    with ServerThread(hook.app) as url:
        hook.url = url + "/hook"
        yield hook


def write_config(gw: RunningGateway, path: Path, patch: dict[str, Any]) -> Path:
    """The running gateway's config as a YAML file, for the CLI."""
    data = merge(BASE_CONFIG, patch)
    data = merge(
        data,
        {
            "upstream": {"base_url": gw.settings.upstream.base_url},
            "storage": {"url": gw.settings.storage.url},
        },
    )
    path.write_text(yaml.safe_dump(data))
    return path


@dataclass
class LoadResult:
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    done: int = 0


async def drive_load(
    url: str,
    key: str,
    *,
    concurrency: int,
    until: Callable[[int], bool],
    on_done: Callable[[int], None] | None = None,
    max_requests: int = 6000,
) -> LoadResult:
    """``concurrency`` clients sending chat requests until ``until(done)`` (or the cap)."""
    result = LoadResult()
    stop = asyncio.Event()
    headers = {"authorization": f"Bearer {key}"}
    body = {"model": "llama-3.1-8b-instant", "messages": MSG, "max_tokens": 8}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(url, connector=connector) as session:

        async def worker() -> None:
            while not stop.is_set():
                async with session.post(
                    "/openai/v1/chat/completions", headers=headers, json=body
                ) as response:
                    text = await response.text()
                result.statuses[response.status] = result.statuses.get(response.status, 0) + 1
                if response.status != 200:
                    result.errors.append(text)
                result.done += 1
                if on_done is not None:
                    on_done(result.done)
                if until(result.done) or result.done >= max_requests:
                    stop.set()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return result
