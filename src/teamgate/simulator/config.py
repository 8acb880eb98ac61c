"""The simulator's settings and the model catalogue it serves.

>>> config = SimulatorConfig(keys={"gsk_alpha"}, completion_tokens=8)
>>> "llama-3.1-8b-instant" in config.models
True
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from teamgate.pricing.price_list import AUDIO_PRICES_PER_HOUR, BUILTIN_PRICES


@dataclass(frozen=True, slots=True)
class ModelCard:
    """What ``GET /openai/v1/models`` says about one model."""

    id: str
    owned_by: str
    created: int
    context_window: int
    max_completion_tokens: int

    def to_json(self) -> dict[str, object]:
        """Groq's model object."""
        return {
            "id": self.id,
            "object": "model",
            "created": self.created,
            "owned_by": self.owned_by,
            "active": True,
            "context_window": self.context_window,
            "public_apps": None,
            "max_completion_tokens": self.max_completion_tokens,
        }


_KNOWN_CARDS: dict[str, ModelCard] = {
    card.id: card
    for card in (
        ModelCard("llama-3.1-8b-instant", "Meta", 1693721698, 131072, 131072),
        ModelCard("llama-3.3-70b-versatile", "Meta", 1733447754, 131072, 32768),
        ModelCard("meta-llama/llama-4-scout-17b-16e-instruct", "Meta", 1743874824, 131072, 8192),
        ModelCard(
            "meta-llama/llama-4-maverick-17b-128e-instruct", "Meta", 1743877158, 131072, 8192
        ),
        ModelCard("qwen/qwen3-32b", "Alibaba Cloud", 1748396646, 131072, 40960),
        ModelCard("openai/gpt-oss-20b", "OpenAI", 1754407957, 131072, 65536),
        ModelCard("openai/gpt-oss-120b", "OpenAI", 1754408224, 131072, 65536),
        ModelCard("qwen/qwen3.6-27b", "Alibaba Cloud", 1775000000, 131072, 32768),
        ModelCard("whisper-large-v3", "OpenAI", 1693721698, 448, 448),
        ModelCard("whisper-large-v3-turbo", "OpenAI", 1728413088, 448, 448),
    )
}


def model_card(model_id: str) -> ModelCard:
    """The card for a model id; unknown ids get a generic card."""
    card = _KNOWN_CARDS.get(model_id)
    if card is None:
        owner = model_id.split("/", 1)[0] if "/" in model_id else "teamgate-simulator"
        card = ModelCard(model_id, owner, 1700000000, 131072, 32768)
    return card


def default_models() -> tuple[str, ...]:
    """The chat models of the built-in price list, then the whisper models."""
    return (*BUILTIN_PRICES, *AUDIO_PRICES_PER_HOUR)


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """How the simulated Groq behaves.

    ``keys``: the upstream keys it accepts (None: any key starting with ``gsk_``).
    ``completion_tokens``: completion length when the request's cap is larger.
    ``latency_s``: delay before every chat completion answer.
    ``default_fault``: a fault spec applied when no header or queued fault says otherwise.
    ``chunk_tokens``: completion tokens per stream chunk.
    ``ratelimit_limit_*``: the limits announced in the ``x-ratelimit-*`` headers.
    ``fast``: skip per-request recording detail (counters only), for benchmarks.
    ``clock``: monotonic seconds, for the rate-limit header counters.
    """

    keys: frozenset[str] | set[str] | None = None
    completion_tokens: int = 16
    latency_s: float = 0.0
    default_fault: str | None = None
    chunk_tokens: int = 4
    models: tuple[str, ...] = field(default_factory=default_models)
    ratelimit_limit_requests: int = 14400
    ratelimit_limit_tokens: int = 6000
    fast: bool = False
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        if self.completion_tokens < 0:
            raise ValueError("completion_tokens must be >= 0")
        if self.chunk_tokens < 1:
            raise ValueError("chunk_tokens must be >= 1")
        if self.latency_s < 0:
            raise ValueError("latency_s must be >= 0")
