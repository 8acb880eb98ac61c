"""The registry of metered endpoints: each one's name on its usage record, how to build a
request to it, whether it streams, its token cap and what its daily limit counts.

The outcome matrix (tests/e2e/metering/test_outcome_matrix.py) drives every outcome through
each; the attribution table (tests/e2e/attribution) asks each JSON one for attribution.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from teamgate.simulator import Simulator
from tests.support.asgi_gateway import (
    Harness,
    Request,
    audio,
    batch_create,
    chat,
    embeddings,
    owned_batch_file,
    responses,
)


@dataclass(frozen=True)
class Endpoint:
    name: str
    record_endpoint: str
    build: Callable[[Harness, Simulator, str], Awaitable[Request]]  # (h, sim, serving key)
    stream: bool = False
    cap: int = 512  # the team's max (analytics), or the request's own
    unit: str = "tokens"  # what TPD/ASD count: "tokens", "audio", "none"


def _static(request: Callable[[], Request]) -> Callable[[Harness, Simulator, str], Any]:
    async def build(h: Harness, sim: Simulator, key: str) -> Request:
        return request()

    return build


async def _batch(h: Harness, sim: Simulator, key: str) -> Request:
    return batch_create(await owned_batch_file(h, key, sim.batch_world))


ENDPOINTS = [
    Endpoint("chat", "chat.completions", _static(lambda: chat(False))),
    Endpoint("chat-stream", "chat.completions", _static(lambda: chat(True)), True, 400),
    Endpoint("responses", "responses", _static(lambda: responses(False))),
    Endpoint("responses-stream", "responses", _static(lambda: responses(True)), True, 400),
    Endpoint("embeddings", "embeddings", _static(embeddings), cap=0),
    Endpoint(
        "transcription",
        "audio.transcriptions",
        _static(lambda: audio("transcriptions")),
        unit="audio",
    ),
    Endpoint(
        "translation", "audio.translations", _static(lambda: audio("translations")), unit="audio"
    ),
    Endpoint("batch-create", "batches.create", _batch, cap=0, unit="none"),
]
