"""A client key and a usage record with every field filled in, to override field by field."""

from __future__ import annotations

from typing import Any

from teamgate.ledger.records import ClientKey, UsageRecord


def make_key(name: str = "chatbot-prod-web", **overrides: Any) -> ClientKey:
    team, environment, purpose = [*name.split("-", 2), "x", "x"][:3]
    values: dict[str, Any] = {
        "name": name,
        "key_hash": f"hash-of-{name}",
        "fingerprint": "tg_…abcd",
        "team": team,
        "environment": environment,
        "purpose": purpose,
        "created_at": 1_700_000_000.0,
    }
    values.update(overrides)
    return ClientKey(**values)


def make_record(ts: float = 1_700_000_000.0, **overrides: Any) -> UsageRecord:
    values: dict[str, Any] = {
        "ts": ts,
        "request_id": f"req-{ts}",
        "groq_id": "req_01abc",
        "team": "chatbot",
        "environment": "prod",
        "purpose": "web",
        "client_key": "chatbot-prod-web",
        "upstream_key": "chatbot-prod-2026-04",
        "model_requested": "fast",
        "model_served": "llama-3.1-8b-instant",
        "prompt_tokens": 37,
        "completion_tokens": 12,
        "cached_tokens": 0,
        "cost_pusd": 37 * 50_000 + 12 * 80_000,
        "status": 200,
        "latency_ms": 12.5,
        "streamed": False,
        "usage_source": "reported",
    }
    values.update(overrides)
    return UsageRecord(**values)
