"""Checking a batch input file (JSONL) line by line before it reaches Groq.

Every line must be ``{"custom_id", "method": "POST", "url": "/v1/chat/completions",
"body": {...}}`` with a unique ``custom_id``, and its body must pass the team's
chat policy (:func:`teamgate.policy.rules.plan_chat`): model allowed (aliases are
resolved and the line rewritten), token cap within the team's maximum (set to
it when absent). Every line is written re-encoded from the object checked, so
repeated or escaped keys reach Groq only as the values policy read. Lines at
fault are reported by number (1-based), all at once.

The worst case of the file is the sum over lines of the on-demand worst case,
halved for the batch price (rounded up, exact integers).

>>> from teamgate.config.schema import Settings, TeamConfig
>>> from teamgate.policy.rules import TeamPolicy
>>> from teamgate.pricing.prices import PriceTable
>>> import io
>>> team = TeamConfig("ops", ("llama-3.1-8b-instant",), 100)
>>> line = (b'{"custom_id":"a","method":"POST","url":"/v1/chat/completions",'
...         b'"body":{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"hi"}]}}')
>>> out = io.BytesIO()
>>> checked = check_batch_file(io.BytesIO(line), out, TeamPolicy.compile(team, {}),
...                            PriceTable.from_settings(Settings(teams={})))
>>> checked.lines, checked.rewritten, b'"max_completion_tokens":100' in out.getvalue()
(1, True, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from teamgate.http.errors import GatewayError, InvalidRequest
from teamgate.policy.rules import TeamPolicy, plan_chat
from teamgate.pricing.prices import PriceTable
from teamgate.pricing.tokens import prompt_token_bound

BATCH_URLS = frozenset({"/v1/chat/completions"})
MAX_REPORTED_LINES = 20


def batch_price(on_demand_pusd: int) -> int:
    """The batch price of an on-demand cost: half, rounded up to the picodollar.

    >>> batch_price(7), batch_price(8)
    (4, 4)
    """
    return -(-on_demand_pusd // 2)


@dataclass(slots=True)
class CheckedBatchFile:
    """A batch file that passed: its line count, worst case at the batch price, models."""

    lines: int = 0
    worst_case_pusd: int = 0
    rewritten: bool = False
    models: set[str] = field(default_factory=set)


def _check_line(
    number: int, raw: bytes, policy: TeamPolicy, seen: set[str]
) -> tuple[dict[str, Any], dict[str, Any], int, int, bool]:
    """(line, body, prompt bound, cap, changed) or InvalidRequest naming what is wrong."""
    try:
        line = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest("not valid JSON") from None
    if not isinstance(line, dict):
        raise InvalidRequest("must be a JSON object")
    custom_id = line.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        raise InvalidRequest("'custom_id' must be a non-empty string")
    if custom_id in seen:
        raise InvalidRequest(f"'custom_id' `{custom_id}` is used by an earlier line")
    seen.add(custom_id)
    if line.get("method", "POST") != "POST":
        raise InvalidRequest("'method' must be POST")
    url = line.get("url")
    if url not in BATCH_URLS:
        raise InvalidRequest(
            f"'url' {url!r} is not allowed through teamgate (allowed: {', '.join(BATCH_URLS)})"
        )
    body = line.get("body")
    if not isinstance(body, dict):
        raise InvalidRequest("'body' must be a JSON object")
    plan = plan_chat(policy, body)
    if plan.stream:
        raise InvalidRequest("'stream' is not supported in a batch")
    changed = plan.model_rewritten or plan.cap_injected
    if changed:
        body = dict(body, model=plan.model)
        if plan.cap_injected:
            body["max_completion_tokens"] = plan.max_completion_tokens
        line = dict(line, body=body)
    return line, body, prompt_token_bound(body), plan.max_completion_tokens, changed


def check_batch_file(
    source: IO[bytes], target: IO[bytes], policy: TeamPolicy, prices: PriceTable
) -> CheckedBatchFile:
    """Check ``source`` line by line, writing the lines to send to Groq into ``target``.

    Raises :class:`InvalidRequest` (400, code ``invalid_batch_file``) naming every
    line at fault (the first :data:`MAX_REPORTED_LINES` in the message).
    """
    checked = CheckedBatchFile()
    faults: list[str] = []
    seen: set[str] = set()
    on_demand = 0
    source.seek(0)
    for number, raw in enumerate(source, start=1):
        if not raw.strip():
            continue
        try:
            line, body, bound, cap, changed = _check_line(number, raw, policy, seen)
            model = str(body["model"])
            on_demand += prices.worst_case(model, bound, cap)
        except (GatewayError, KeyError) as exc:
            faults.append(f"line {number}: {getattr(exc, 'message', str(exc))}")
            continue
        checked.lines += 1
        checked.models.add(model)
        checked.rewritten = checked.rewritten or changed
        # Re-encoded from the checked object: a repeated or escaped key cannot make
        # Groq read a value nobody checked.
        target.write(orjson.dumps(line) + b"\n")
    if faults:
        shown = "; ".join(faults[:MAX_REPORTED_LINES])
        more = len(faults) - MAX_REPORTED_LINES
        raise InvalidRequest(
            f"The batch file was refused: {len(faults)} line(s) at fault. {shown}"
            + (f"; and {more} more" if more > 0 else ""),
            code="invalid_batch_file",
        )
    if not checked.lines:
        raise InvalidRequest("The batch file has no requests", code="invalid_batch_file")
    checked.worst_case_pusd = batch_price(on_demand)
    return checked
