"""One log line per refused request: who, with which key, why. Never a secret.

The operator sees a refusal as it happens (``teamgate.refusals`` logger, INFO),
with the team, the client key's *name* (never its secret), the model asked for,
the status and the reason code of docs/refusals.md. The request id ties it to
the ledger record.

>>> from teamgate.ledger.records import UsageRecord
>>> rec = UsageRecord(0.0, "r1", "", "research", "prod", "web", "research-prod-web", "",
...     "llama-3.3-70b-versatile", "", 0, 0, 0, 0, 429, 1.0, False, "none", refusal="team_budget")
>>> refusal_line(rec)
'refused request r1: team=research key=research-prod-web model=llama-3.3-70b-versatile status=429 reason=team_budget'
"""  # noqa: E501

from __future__ import annotations

import logging

from teamgate.ledger.records import UsageRecord

log = logging.getLogger("teamgate.refusals")


def refusal_line(rec: UsageRecord) -> str:
    model = (rec.model_requested or "-")[:80].replace("\n", " ").replace(" ", "_")
    return (
        f"refused request {rec.request_id}: team={rec.team} key={rec.client_key} "
        f"model={model} status={rec.status} reason={rec.refusal}"
    )


def log_refusal(rec: UsageRecord) -> None:
    """Log ``rec`` if it is a refusal (cheap no-op otherwise)."""
    if rec.refusal and log.isEnabledFor(logging.INFO):
        log.info("%s", refusal_line(rec))
