"""Settling a finished batch: read the output file's per-line usage, charge the batch price.

Ledger choice: ONE RECORD PER BATCH AND MODEL (usually one per batch), with the
exact token totals of the batch's successful lines and ``cost_pusd`` equal to
half the on-demand cost of those totals, rounded up to the picodollar.
``endpoint`` is ``batches``, ``groq_id`` the batch id, ``streamed`` false.

A batch is settled once (the store's ``mark_object_settled`` decides between
concurrent readers) when teamgate first sees it in a terminal state — on
``GET batches/{id}``, ``GET batches`` or ``POST batches/{id}/cancel``. The budget
reservation taken at creation is settled with the cost (or released when
nothing was done); after a restart, which loses the in-memory reservation, the
cost is charged directly.

>>> totals = usage_by_model([b'{"custom_id":"a","response":{"status_code":200,"body":'
...     b'{"model":"m","usage":{"prompt_tokens":10,"completion_tokens":4}}}}'])
>>> totals["m"].prompt_tokens, totals["m"].completion_tokens, totals["m"].lines
(10, 4, 1)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from teamgate.asgi import Scope
from teamgate.endpoints.batch_lines import batch_price
from teamgate.endpoints.ownership import as_owner, store_of
from teamgate.endpoints.relay import new_exchange
from teamgate.errors import BudgetExceeded
from teamgate.ledger.owned import OwnedObject
from teamgate.ledger.records import ClientKey
from teamgate.pricing import UnpricedModel
from teamgate.proxy import open_upstream, record
from teamgate.runtime import Gateway
from teamgate.streaming import Usage, usage_from

log = logging.getLogger("teamgate.batches")

TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})


@dataclass(slots=True)
class ModelTotals:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    lines: int = 0


def usage_by_model(lines: Iterable[bytes]) -> dict[str, ModelTotals]:
    """Token totals per model over an output file's successful lines."""
    totals: dict[str, ModelTotals] = {}
    for raw in lines:
        if not raw.strip():
            continue
        try:
            line = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        response = line.get("response") if isinstance(line, dict) else None
        if not isinstance(response, dict) or response.get("status_code") != 200:
            continue
        body = response.get("body")
        if not isinstance(body, dict):
            continue
        usage: Usage | None = usage_from(body.get("usage"))
        if usage is None:
            continue
        total = totals.setdefault(str(body.get("model", "")), ModelTotals())
        total.prompt_tokens += usage.prompt_tokens
        total.completion_tokens += usage.completion_tokens
        total.cached_tokens += usage.cached_tokens
        total.lines += 1
    return totals


async def register_outputs(gw: Gateway, obj: OwnedObject, batch: dict[str, Any]) -> None:
    """The batch's output and error files belong to its team."""
    for field in ("output_file_id", "error_file_id"):
        file_id = batch.get(field)
        if isinstance(file_id, str) and file_id:
            await store_of(gw).add_owned_object(
                OwnedObject("file", file_id, obj.team, obj.environment, time.time())
            )


async def _output_lines(gw: Gateway, key: ClientKey, scope: Scope, file_id: str) -> list[bytes]:
    ex = new_exchange(key)
    path = f"/openai/v1/files/{file_id}/content"
    resp, _ = await open_upstream(gw, ex, scope, None, path=path, method="GET")
    try:
        if resp.status != 200:
            raise RuntimeError(f"Groq answered {resp.status} for the output file {file_id}")
        return (await resp.read()).splitlines()
    finally:
        resp.release()


async def settle_if_finished(
    gw: Gateway, scope: Scope, key: ClientKey, obj: OwnedObject, batch: dict[str, Any]
) -> None:
    """Charge a batch seen in a terminal state, exactly once."""
    if batch.get("status") not in TERMINAL or obj.settled:
        return
    await register_outputs(gw, obj, batch)
    owner = as_owner(key, obj)
    output = batch.get("output_file_id")
    totals: dict[str, ModelTotals] = {}
    if isinstance(output, str) and output:
        try:
            totals = usage_by_model(await _output_lines(gw, owner, scope, output))
        except Exception:
            log.exception("batch %s: could not read its output; will retry", obj.object_id)
            return
    if not await store_of(gw).mark_object_settled("batch", obj.object_id, time.time()):
        return  # another request settled it
    total_cost = 0
    for model, t in sorted(totals.items()):
        try:
            on_demand = gw.prices.cost(model, t.prompt_tokens, t.completion_tokens, t.cached_tokens)
            cost = batch_price(on_demand)
        except UnpricedModel:
            log.error("batch %s: Groq served unpriced model %s", obj.object_id, model)
            cost = obj.worst_case_pusd  # the whole reservation: never under-count

        total_cost += cost
        ex = new_exchange(owner)
        ex.model_requested = ex.model = model
        record(
            gw,
            ex,
            status=200,
            usage=Usage(t.prompt_tokens, t.completion_tokens, t.cached_tokens),
            cost=cost,
            groq_id=obj.object_id,
            source="reported",
            endpoint="batches",
        )
    reservation = gw.endpoints.batch_reservations.pop(obj.object_id, None)
    if reservation is None:
        try:
            reservation = await gw.budget.reserve(obj.team, 0)
        except BudgetExceeded:
            log.warning("batch %s: budget already spent; its cost is in the ledger", obj.object_id)
            return
    if total_cost:
        await reservation.settle(total_cost)
    else:
        await reservation.release()
