"""A usage record for a team, a model and token counts, costed at fixed prices (a refusal
costs nothing): the reports' and the CLI's known ledgers are made of these."""

from __future__ import annotations

from typing import Any

from teamgate.ledger.records import UsageRecord

PRICES = {  # picodollars per token (input, output)
    "llama-3.1-8b-instant": (50_000, 80_000),
    "llama-3.3-70b-versatile": (590_000, 790_000),
    "meta-llama/llama-4-scout-17b-16e-instruct": (110_000, 340_000),
}


def record(
    ts: float, team: str, model: str, prompt: int, completion: int, **kw: Any
) -> UsageRecord:
    pin, pout = PRICES[model]
    refusal = kw.pop("refusal", "")
    values: dict[str, Any] = {
        "ts": ts,
        "request_id": f"req-{ts}-{team}",
        "groq_id": "",
        "team": team,
        "environment": kw.pop("environment", "prod"),
        "purpose": kw.pop("purpose", "web"),
        "client_key": kw.pop("client_key", f"{team}-prod-web"),
        "upstream_key": "up",
        "model_requested": model,
        "model_served": "" if refusal else model,
        "prompt_tokens": 0 if refusal else prompt,
        "completion_tokens": 0 if refusal else completion,
        "cached_tokens": 0,
        "cost_pusd": 0 if refusal else prompt * pin + completion * pout,
        "status": 429 if refusal else 200,
        "latency_ms": 1.0,
        "streamed": False,
        "usage_source": "none" if refusal else "reported",
        "refusal": refusal,
    }
    values.update(kw)
    return UsageRecord(**values)
