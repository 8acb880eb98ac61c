"""A metered request's ONE ledger record: built from its outcome, handed to the ledger.

:func:`write_record` runs once, on the request's exit (``MeteredRequest.__aexit__``):
the record goes to the ledger's in-memory batch (inside a ``teamgate.ledger`` span when
tracing is on), the metrics observe it, a refusal is logged.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from teamgate.ledger.records import UsageRecord
from teamgate.lifecycle.outcome import Outcome
from teamgate.observability.refusal_log import log_refusal

if TYPE_CHECKING:
    from teamgate.lifecycle.metered import MeteredRequest


def write_record(mr: MeteredRequest) -> None:
    """Build ``mr``'s record from its outcome and hand it to the ledger and the metrics."""
    outcome = mr.outcome or Outcome.FAILED
    bill, key, usage = mr.bill, mr.key, mr.bill.usage
    rec = UsageRecord(
        ts=mr.ts,
        request_id=mr.request_id,
        groq_id=bill.groq_id,
        team=key.team,
        environment=key.environment,
        purpose=key.purpose,
        client_key=key.name,
        upstream_key=mr.upstream.key_name,
        model_requested=mr.model_requested,
        model_served=bill.model_served or mr.model,
        prompt_tokens=usage.prompt_tokens if usage is not None else 0,
        completion_tokens=usage.completion_tokens if usage is not None else 0,
        cached_tokens=usage.cached_tokens if usage is not None else 0,
        cost_pusd=bill.cost_pusd,
        status=mr.status,
        latency_ms=(time.perf_counter() - mr.started) * 1000,
        streamed=mr.streamed,
        usage_source=bill.source,
        refusal=refusal_code(outcome, mr.error_code),
        endpoint=mr.endpoint,
        end_user=mr.attribution.end_user,
        tags=mr.attribution.tags,
    )
    gw = mr.gw
    tracing = gw.tracing
    if tracing.enabled:  # the request's span gets the outcome; the hand-off its own span
        figures = {
            "team": rec.team,
            "environment": rec.environment,
            "model": rec.model_served or rec.model_requested,
            "status": rec.status,
            "prompt_tokens": rec.prompt_tokens,
            "completion_tokens": rec.completion_tokens,
            "cost_picodollars": rec.cost_pusd,
        }
        tracing.annotate(**figures, outcome=outcome.label)
        with tracing.span("teamgate.ledger", **figures):
            gw.ledger.append(rec)
    else:
        gw.ledger.append(rec)
    gw.metrics.observe(rec, mr.model, mr.queue_s, mr.upstream.upstream_s)
    log_refusal(rec)


def refusal_code(outcome: Outcome, error_code: str) -> str:
    """The record's refusal code: the refusing error's own, else the outcome's.

    >>> refusal_code(Outcome.BUDGET_REFUSED, "team_budget"), refusal_code(Outcome.SERVED, "")
    ('team_budget', '')
    """
    if outcome in (Outcome.INVALID, Outcome.LIMIT_REFUSED, Outcome.BUDGET_REFUSED):
        return error_code or outcome.refusal
    return outcome.refusal
