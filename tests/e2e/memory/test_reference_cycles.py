"""No request leaves a reference cycle of teamgate's own behind.

Objects in a cycle are not freed when the request ends but only when the
cycle collector gets to them; under sustained load that is what made the
gateway's memory grow (issue: memory grows without bound). This test sends
each kind of request the gateway meters, with the collector told to keep
(not free) what it finds, and fails when any of it is teamgate's own: an
object of a teamgate class, or a frame or coroutine of teamgate code. The
simulator (also in this process) and the libraries are not counted: the RSS
check in tests/project/bench/test_memory_gate.py watches the whole process.
"""

from __future__ import annotations

import gc
import types
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from teamgate.simulator import Simulator
from tests.conftest import RunningGateway, start_gateway
from tests.support.audio_files import wav_bytes

CHAT = "/openai/v1/chat/completions"
EMBED = "nomic-embed-text-v1_5"
PATCH: dict[str, Any] = {
    "pricing": {EMBED: {"input": "0.02", "output": "0"}},
    "teams": {
        "analytics": {"allowed_models": ["llama-3.1-8b-instant", EMBED]},
        "research": {"allowed_models": ["llama-3.1-8b-instant", "whisper-large-v3"]},
    },
}
MESSAGES = [{"role": "user", "content": "hello"}]
ROUNDS = 40


@pytest.fixture
def gw(simulator: Simulator, tmp_path: Path) -> Iterator[RunningGateway]:
    simulator._models = simulator._models | {EMBED}
    yield from start_gateway(simulator, tmp_path, PATCH)


def _json(path: str, team: str, body: dict[str, Any], ok: bool = True) -> Callable[..., None]:
    def send(client: httpx.Client, gw: RunningGateway) -> None:
        reply = client.post(path, json=body, headers={"authorization": f"Bearer {gw.key(team)}"})
        assert (reply.status_code == 200) == ok, reply.text

    return send


def _audio(client: httpx.Client, gw: RunningGateway) -> None:
    reply = client.post(
        "/openai/v1/audio/transcriptions",
        headers={"authorization": f"Bearer {gw.key('research')}"},
        files={"model": (None, "whisper-large-v3"), "file": ("a.wav", wav_bytes(1.0))},
    )
    assert reply.status_code == 200, reply.text


def _bad_key(client: httpx.Client, gw: RunningGateway) -> None:
    reply = client.post(CHAT, json={}, headers={"authorization": "Bearer tg_wrong"})
    assert reply.status_code == 401


# Every kind of exchange the gateway meters or refuses.
KINDS: dict[str, Callable[[httpx.Client, RunningGateway], None]] = {
    "chat": _json(CHAT, "chatbot", {"model": "llama-3.1-8b-instant", "messages": MESSAGES}),
    "chat streamed": _json(
        CHAT, "chatbot", {"model": "llama-3.1-8b-instant", "messages": MESSAGES, "stream": True}
    ),
    "chat refused by policy": _json(
        CHAT, "chatbot", {"model": "not-allowed", "messages": MESSAGES}, ok=False
    ),
    "chat with a bad key": _bad_key,
    "responses": _json(
        "/openai/v1/responses", "analytics", {"model": "llama-3.1-8b-instant", "input": "hi"}
    ),
    "responses streamed": _json(
        "/openai/v1/responses",
        "analytics",
        {"model": "llama-3.1-8b-instant", "input": "hi", "stream": True},
    ),
    "embeddings": _json("/openai/v1/embeddings", "analytics", {"model": EMBED, "input": "x"}),
    "audio transcription": _audio,
}


def _own(obj: object) -> str | None:
    """A name for ``obj`` when it is teamgate's own (not the simulator's), else None."""
    code: types.CodeType | None = None
    if isinstance(obj, types.FrameType):
        code = obj.f_code
    elif isinstance(obj, types.CoroutineType):
        code = obj.cr_code
    if code is not None:
        path = code.co_filename
        if "/teamgate/" in path and "/simulator/" not in path:
            return f"{type(obj).__name__} {code.co_qualname}"
        return None
    module = type(obj).__module__ or ""
    if module.startswith("teamgate.") and not module.startswith("teamgate.simulator"):
        return f"{module}.{type(obj).__qualname__}"
    return None


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_request_leaves_no_cycle_of_teamgates_own(gw: RunningGateway, kind: str) -> None:
    send = KINDS[kind]
    with httpx.Client(base_url=gw.url, timeout=10) as client:
        for _ in range(3):  # warm up: caches, pools, first-time imports
            send(client, gw)
        gc.collect()
        gc.garbage.clear()
        gc.set_debug(gc.DEBUG_SAVEALL)  # keep what the collector finds, for the count
        try:
            for _ in range(ROUNDS):
                send(client, gw)
            gc.collect()
        finally:
            gc.set_debug(0)
        found = Counter(name for obj in gc.garbage if (name := _own(obj)) is not None)
        gc.garbage.clear()
    assert not found, f"{kind}: teamgate objects left in reference cycles: {found.most_common(8)}"
