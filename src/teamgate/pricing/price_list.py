"""Groq's published on-demand prices, as data (USD per 1M tokens, input / output).

The operator overrides any entry with ``pricing:`` in the config; each entry
says when it was last checked against Groq's price page. Audio models are
priced per hour of audio and live in :data:`AUDIO_PRICES_PER_HOUR`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from teamgate.config.schema import Price

_CHECKED = date(2026, 11, 1)


def _p(inp: str, out: str) -> Price:
    return Price(input=Decimal(inp), output=Decimal(out), checked=_CHECKED)


BUILTIN_PRICES: dict[str, Price] = {
    "llama-3.1-8b-instant": _p("0.05", "0.08"),
    "llama-3.3-70b-versatile": _p("0.59", "0.79"),
    "meta-llama/llama-4-scout-17b-16e-instruct": _p("0.11", "0.34"),
    "meta-llama/llama-4-maverick-17b-128e-instruct": _p("0.20", "0.60"),
    "qwen/qwen3-32b": _p("0.29", "0.59"),
    "openai/gpt-oss-20b": _p("0.075", "0.30"),
    "openai/gpt-oss-120b": _p("0.15", "0.60"),
    "qwen/qwen3.6-27b": _p("0.60", "3.00"),
}

# USD per hour of audio, and the minimum billed length per request (seconds).
AUDIO_PRICES_PER_HOUR: dict[str, tuple[Decimal, int]] = {
    "whisper-large-v3": (Decimal("0.111"), 10),
    "whisper-large-v3-turbo": (Decimal("0.04"), 10),
}
