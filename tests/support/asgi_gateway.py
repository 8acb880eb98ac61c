"""A gateway driven in-process on the test's loop, with clients that can leave.

The simulator runs as a real server (the upstream); the gateway's ASGI app runs
on the test's own event loop, so a test decides exactly when a client hangs up
(while queued, after the first streamed chunk, ...) and can read the gateway's
budget, counters and metrics directly.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from teamgate.app import TeamgateApp, create_app
from teamgate.auth.keys import new_client_key
from teamgate.ledger import open_store
from teamgate.ledger.owned import OwnedObject
from teamgate.ledger.records import UsageRecord
from teamgate.runtime import Gateway
from tests.conftest import UPSTREAM_SECRETS, build_settings
from tests.support.audio_files import wav_bytes

TEAM = "analytics"
MODEL = "llama-3.1-8b-instant"
EMBED = "nomic-embed-text-v1_5"
WHISPER = "whisper-large-v3-turbo"
KEY_1 = UPSTREAM_SECRETS["GROQ_KEY_ANALYTICS_PROD"]
KEY_2 = "gsk_test_analytics_prod_second_0005"
BATCH_FILE_WORST_PUSD = 3_000_000_000  # $0.003, the stored worst case of the batch input
LIMITS: dict[str, Any] = {"rpm": 1000, "tpd": 1_000_000, "asd": 100_000, "concurrency": 5}
AUDIO_SECONDS = 10  # every test file is shorter: billed Groq's 10 s minimum

BASE_PATCH: dict[str, Any] = {
    "upstream": {"timeout_s": 1.0, "connect_timeout_s": 0.3, "retry_429_deadline_s": 1.0},
    "pricing": {EMBED: {"input": "0.02", "output": "0"}},
    "teams": {
        TEAM: {
            "allowed_models": [MODEL, EMBED, WHISPER],
            "limits": LIMITS,
            "on_limit": "reject",
            "environments": {
                "prod": {
                    "upstream_keys": [
                        {"name": "analytics-prod-1", "secret": "env:GROQ_KEY_ANALYTICS_PROD"},
                        {"name": "analytics-prod-2", "secret": "env:GROQ_KEY_ANALYTICS_PROD_2"},
                    ]
                }
            },
        }
    },
}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    chunks: list[bytes] = field(default_factory=list)

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


@dataclass(frozen=True)
class Request:
    path: str
    body: bytes
    content_type: str = "application/json"


class Harness:
    """One gateway on this loop; :meth:`call` makes a request as team ``analytics``."""

    def __init__(self, app: TeamgateApp, secret: str) -> None:
        self.app = app
        self.secret = secret

    @property
    def gw(self) -> Gateway:
        return self.app.gateway

    async def call(
        self,
        request: Request,
        *,
        fault: str | None = None,
        leave_after_s: float | None = None,
        leave_after_chunks: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """Send ``request`` (with extra ``headers``); the client hangs up after
        ``leave_after_s`` seconds or once ``leave_after_chunks`` body chunks arrived
        (None: it stays to the end)."""
        extra = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
        headers_out = [
            (b"authorization", f"Bearer {self.secret}".encode()),
            (b"content-type", request.content_type.encode()),
            (b"content-length", str(len(request.body)).encode()),
            *extra,
        ]
        if fault:
            headers_out.append((b"x-sim-fault", fault.encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": request.path,
            "raw_path": request.path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers_out,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8080),
        }
        left = asyncio.Event()
        sent_body = False
        reply = Reply(0, {})

        async def receive() -> dict[str, Any]:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": request.body, "more_body": False}
            await left.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if left.is_set():
                return  # the client is gone: the server drops what it sends
            if message["type"] == "http.response.start":
                reply.status = message["status"]
                reply.headers = {k.decode(): v.decode() for k, v in message["headers"]}
            elif message["type"] == "http.response.body":
                if message.get("body"):
                    reply.chunks.append(message["body"])
                if not message.get("more_body") or (
                    leave_after_chunks is not None and len(reply.chunks) >= leave_after_chunks
                ):
                    left.set()

        timer = None
        if leave_after_s is not None:
            timer = asyncio.get_running_loop().call_later(leave_after_s, left.set)
        try:
            await self.app(scope, receive, send)
        finally:
            left.set()
            if timer is not None:
                timer.cancel()
        return reply

    async def known_ids(self) -> set[str]:
        """Request ids recorded so far, stored or pending (without flushing)."""
        writer = self.gw.ledger
        pending = [*writer._buffer, *writer._unwritten]
        assert self.gw.store is not None
        stored = await self.gw.store.usage_records(0, 1e12)
        return {r.request_id for r in [*stored, *pending]}

    async def records(self) -> list[UsageRecord]:
        await self.gw.ledger.flush()
        assert self.gw.store is not None
        return await self.gw.store.usage_records(0, 1e12)


@asynccontextmanager
async def running(
    upstream_url: str,
    tmp_path: Path,
    patch: dict[str, Any] | None = None,
    *,
    storage_url: str | None = None,
) -> AsyncIterator[Harness]:
    """A started gateway (lifespan run) with one key of team ``analytics``; its ledger in
    ``tmp_path`` (SQLite) unless ``storage_url`` names another (already migrated) store."""
    from tests.conftest import merge

    settings = build_settings(upstream_url, tmp_path / "ledger.db", merge(BASE_PATCH, patch or {}))
    if storage_url is not None:
        settings = dataclasses.replace(
            settings, storage=dataclasses.replace(settings.storage, url=storage_url)
        )
    store = open_store(settings.storage.url)
    await store.open()
    record, secret = new_client_key(TEAM, "prod", "test")
    await store.add_client_key(record)
    await store.close()
    env = {**UPSTREAM_SECRETS, "GROQ_KEY_ANALYTICS_PROD_2": KEY_2}
    app = create_app(settings, env=env)
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    lifespan = asyncio.ensure_future(app({"type": "lifespan"}, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    assert started["type"] == "lifespan.startup.complete", started
    try:
        yield Harness(app, secret)
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await lifespan


# --- request bodies ---------------------------------------------------------------------
def chat(stream: bool) -> Request:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    if stream:
        body["max_tokens"] = 400
    return Request("/openai/v1/chat/completions", orjson.dumps(body))


def responses(stream: bool) -> Request:
    body: dict[str, Any] = {"model": MODEL, "input": "hello there", "stream": stream}
    if stream:
        body["max_output_tokens"] = 400
    return Request("/openai/v1/responses", orjson.dumps(body))


def embeddings() -> Request:
    return Request("/openai/v1/embeddings", orjson.dumps({"model": EMBED, "input": ["a", "b"]}))


def audio(task: str) -> Request:
    built = httpx.Request(
        "POST",
        "http://x/",
        data={"model": WHISPER, "response_format": "verbose_json"},
        files={"file": ("tone.wav", wav_bytes(2), "audio/wav")},
    )
    return Request(f"/openai/v1/audio/{task}", built.read(), built.headers["content-type"])


def batch_create(file_id: str) -> Request:
    body = {
        "input_file_id": file_id,
        "endpoint": "/v1/chat/completions",
        "completion_window": "24h",
    }
    return Request("/openai/v1/batches", orjson.dumps(body))


BATCH_LINE = orjson.dumps(
    {
        "custom_id": "a",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5},
    }
)


async def owned_batch_file(h: Harness, upstream_key: str, world: Any) -> str:
    """A checked batch input file of the team: at the simulator (held by ``upstream_key``)
    and in the gateway's store, as ``POST files`` would leave it."""
    created = world.add_file(upstream_key, "in.jsonl", "batch", BATCH_LINE + b"\n")
    info = orjson.dumps({"lines": 1, "models": [MODEL]}).decode()
    assert h.gw.store is not None
    await h.gw.store.add_owned_object(
        OwnedObject(
            "file",
            created["id"],
            TEAM,
            "prod",
            0.0,
            worst_case_pusd=BATCH_FILE_WORST_PUSD,
            info=info,
        )
    )
    return str(created["id"])
