"""Settling a finished batch: read the output file's per-line usage, charge the batch price.

Ledger choice: ONE RECORD PER BATCH AND MODEL (usually one per batch), with the
exact token totals of the batch's successful lines and ``cost_pusd`` equal to
half the on-demand cost of those totals, rounded up to the picodollar.
``endpoint`` is ``batches``, ``groq_id`` the batch id, ``request_id``
``<batch id>/<model>`` (deterministic), ``client_key`` the key that created the
batch, ``streamed`` false.

Exactly once, crash-safe: the records and the "settled" mark are written by
the store in ONE transaction (:meth:`~teamgate.ledger.store.Store.settle_owned_object`),
which succeeds for exactly one caller — a client's ``GET batches/{id}``, a
listing, a cancel, or the background poller (:mod:`.batch_poller`) of any
gateway instance sharing the store. The caller that lost writes nothing and
releases its own reservation. A crash before the commit leaves the batch open
(the poller settles it after the restart); a crash after it leaves the records
and the mark together (the restarted gateway reads the spend from the ledger and
does not re-reserve a settled batch). The ledger rows go straight to the store,
not through the buffered :class:`~teamgate.ledger.writer.LedgerWriter`, so the
commit *is* the charge.

The budget reservation taken at creation (or re-taken at start-up, see
:mod:`.batch_poller`) is settled with the cost, or released when nothing was
done; if this process holds none, the cost is charged with
:meth:`~teamgate.budget.book.BudgetBook.hold` (never refused: Groq has done the
work).

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

from teamgate.budget import Payer
from teamgate.endpoints.batch_lines import batch_price
from teamgate.endpoints.ownership import json_object, store_of
from teamgate.endpoints.relay import open_for
from teamgate.http.asgi import Scope
from teamgate.ledger.owned import OwnedObject
from teamgate.ledger.records import ClientKey, UsageRecord
from teamgate.lifecycle.streaming import Usage, usage_from
from teamgate.pricing.prices import UnpricedModel
from teamgate.runtime import Gateway

log = logging.getLogger("teamgate.batches")

TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
# What the poller sends upstream in place of a client's request headers.
POLLER_SCOPE: Scope = {"type": "http", "headers": []}


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


def batch_owner(obj: OwnedObject, viewer: ClientKey | None) -> ClientKey:
    """The key a batch is charged to: the one that created it (recorded in ``info``),
    else the viewer (of the batch's own team and environment), else a nameless key."""
    info = json_object(obj.info.encode()) if obj.info else None
    creator = info.get("client_key") if info else None
    if isinstance(creator, str) and creator:
        purpose = info.get("purpose") if info else None
        return ClientKey(
            creator, "", "", obj.team, obj.environment, str(purpose or "batch"), obj.created_at
        )
    if viewer is not None:
        return viewer
    return ClientKey("", "", "", obj.team, obj.environment, "batch", obj.created_at)


def batch_attribution(obj: OwnedObject) -> tuple[str, str]:
    """The end user and tags the batch's creation carried (recorded in ``info``)."""
    info = json_object(obj.info.encode()) if obj.info else None
    user = info.get("end_user") if info else None
    tags = info.get("tags") if info else None
    return (user if isinstance(user, str) else "", tags if isinstance(tags, str) else "")


async def register_outputs(gw: Gateway, obj: OwnedObject, batch: dict[str, Any]) -> None:
    """The batch's output and error files belong to its team."""
    for field in ("output_file_id", "error_file_id"):
        file_id = batch.get(field)
        if isinstance(file_id, str) and file_id:
            await store_of(gw).add_owned_object(
                OwnedObject("file", file_id, obj.team, obj.environment, time.time())
            )


async def _output_lines(
    gw: Gateway, key: ClientKey, scope: Scope, file_id: str
) -> tuple[list[bytes], str]:
    """The output file's lines, and the name of the upstream key that read them."""
    opened = await open_for(gw, key, scope, None, path=f"/openai/v1/files/{file_id}/content")
    resp = opened.resp
    try:
        if resp.status != 200:
            raise RuntimeError(f"Groq answered {resp.status} for the output file {file_id}")
        return (await resp.read()).splitlines(), opened.key.name
    finally:
        resp.release()


def settlement_records(
    gw: Gateway,
    obj: OwnedObject,
    owner: ClientKey,
    totals: dict[str, ModelTotals],
    upstream_key: str,
    now: float,
) -> list[UsageRecord]:
    """One ledger record per model, at the batch price (see the module docstring)."""
    records = []
    end_user, tags = batch_attribution(obj)
    for model, t in sorted(totals.items()):
        try:
            on_demand = gw.prices.cost(model, t.prompt_tokens, t.completion_tokens, t.cached_tokens)
            cost = batch_price(on_demand)
        except UnpricedModel:
            log.error("batch %s: Groq served unpriced model %s", obj.object_id, model)
            cost = obj.worst_case_pusd  # the whole reservation: never under-count
        records.append(
            UsageRecord(
                ts=now,
                request_id=f"{obj.object_id}/{model}"[:200],
                groq_id=obj.object_id,
                team=obj.team,
                environment=obj.environment,
                purpose=owner.purpose,
                client_key=owner.name,
                upstream_key=upstream_key,
                model_requested=model,
                model_served=model,
                prompt_tokens=t.prompt_tokens,
                completion_tokens=t.completion_tokens,
                cached_tokens=t.cached_tokens,
                cost_pusd=cost,
                status=200,
                latency_ms=0.0,
                streamed=False,
                usage_source="reported",
                endpoint="batches",
                end_user=end_user,
                tags=tags,
            )
        )
    return records


async def release_local(gw: Gateway, batch_id: str) -> None:
    """Give back this process's reservation of a batch settled elsewhere."""
    reservation = gw.endpoints.batch_reservations.pop(batch_id, None)
    if reservation is not None:
        await reservation.release()


async def settle_if_finished(
    gw: Gateway, scope: Scope, key: ClientKey | None, obj: OwnedObject, batch: dict[str, Any]
) -> bool:
    """Charge a batch seen in a terminal state, exactly once; True if this call charged it.

    ``key`` is the client that looked (None for the poller).
    """
    if obj.settled:
        await release_local(gw, obj.object_id)
        return False
    if batch.get("status") not in TERMINAL:
        return False
    await register_outputs(gw, obj, batch)
    owner = batch_owner(obj, key)
    output = batch.get("output_file_id")
    totals: dict[str, ModelTotals] = {}
    upstream_key = ""
    if isinstance(output, str) and output:
        try:
            lines, upstream_key = await _output_lines(gw, owner, scope, output)
        except Exception:
            log.exception("batch %s: could not read its output; will retry", obj.object_id)
            return False
        totals = usage_by_model(lines)
    now = time.time()
    records = settlement_records(gw, obj, owner, totals, upstream_key, now)
    if not await store_of(gw).settle_owned_object("batch", obj.object_id, now, records):
        await release_local(gw, obj.object_id)  # another request or instance settled it
        return False
    for rec in records:
        gw.metrics.observe(rec, rec.model_served, -1.0, 0.0)
    total_cost = sum(r.cost_pusd for r in records)
    reservation = gw.endpoints.batch_reservations.pop(obj.object_id, None)
    if reservation is None:
        reservation = await gw.budget.hold(Payer(obj.team, obj.environment), 0)
    if total_cost:
        await reservation.settle(total_cost)
    else:
        await reservation.release()
    return True
