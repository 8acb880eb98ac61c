"""The Batch API under team budgets: reserve the worst case at creation, settle on completion.

* ``POST batches``: the input file must be the team's and checked by teamgate
  (uploaded through ``POST files``); ``endpoint`` must be
  ``/v1/chat/completions``. The file's worst case at the batch price (50 % of
  on-demand, exact) is reserved against the team's and the org's budgets before
  Groq sees the request; a refusal is 429 ``budget_exceeded``. The creation
  counts as ONE request against the team's (and the org's) RPM/RPD, and holds
  a concurrency slot while Groq answers; it is not charged to TPM/TPD nor to
  per-model limits: Groq runs batches outside the on-demand limits, with
  limits of its own. Over a limit: 429 ``rate_limit_exceeded`` (or queued, by
  the team's ``on_limit``).
* ``GET batches/{id}``, ``POST batches/{id}/cancel``: owner only (404 otherwise);
  a batch seen finished is settled (:mod:`.batch_settlement`).
* ``GET batches``: Groq's list, only the team's own batches.
"""

from __future__ import annotations

import time

import aiohttp
import orjson

from teamgate.asgi import Receive, Scope, Send, encode_headers, read_body, send_bytes
from teamgate.endpoints.batch_lines import BATCH_URLS
from teamgate.endpoints.batch_settlement import register_outputs, settle_if_finished
from teamgate.endpoints.ownership import (
    as_owner,
    json_object,
    not_found,
    only_owned,
    owned_or_404,
    store_of,
)
from teamgate.endpoints.relay import new_exchange, response_headers
from teamgate.errors import BudgetExceeded, GatewayError, InvalidRequest, RateLimited
from teamgate.ledger.owned import OwnedObject
from teamgate.ledger.records import ClientKey
from teamgate.limits.ticket import Ticket
from teamgate.proxy import ClientWatch, decode_body, open_upstream, record, team_headers
from teamgate.runtime import Gateway

BATCHES_PATH = "/openai/v1/batches"


async def _send(
    gw: Gateway,
    key: ClientKey,
    send: Send,
    status: int,
    body: bytes,
    resp: aiohttp.ClientResponse,
) -> None:
    headers = response_headers(gw, key.team, resp, gw.limiter.headers(key.team))
    await send_bytes(send, status, body, encode_headers(headers))


async def _admit(gw: Gateway, receive: Receive, key: ClientKey) -> Ticket:
    """One request against the team's and org's RPM/RPD (and concurrency); see the module."""
    gone = ClientWatch(receive)
    try:
        return await gw.limiter.admit(key.team, "", 0, client_gone=gone)
    finally:
        gone.close()


async def create_batch(
    gw: Gateway, scope: Scope, receive: Receive, send: Send, key: ClientKey
) -> None:
    ex = new_exchange(key)
    raw = await read_body(scope, receive, gw.settings.server.max_body_bytes)
    ticket: Ticket | None = None
    try:
        body = decode_body(raw)
        file_id = body.get("input_file_id")
        if not isinstance(file_id, str) or not file_id:
            raise InvalidRequest("'input_file_id' : property 'input_file_id' is missing")
        endpoint = body.get("endpoint")
        if endpoint not in BATCH_URLS:
            raise InvalidRequest(
                f"'endpoint' : {endpoint!r} is not allowed through teamgate "
                f"(allowed: {', '.join(sorted(BATCH_URLS))})"
            )
        source = await store_of(gw).get_owned_object("file", file_id)
        if source is None or source.team != key.team:
            raise not_found("file", file_id)
        if not source.info:  # a batch output file, never checked as input
            raise InvalidRequest(f"file `{file_id}` was not uploaded as a batch input file")
        ex.key = as_owner(key, source)
        ticket = await _admit(gw, receive, key)
        reservation = await gw.budget.reserve(key.team, source.worst_case_pusd)
    except GatewayError as exc:
        if ticket is not None:
            await ticket.release()
        refusal = exc.reason if isinstance(exc, BudgetExceeded | RateLimited) else exc.code
        record(gw, ex, status=exc.status, refusal=refusal, endpoint="batches")
        exc.headers.update(team_headers(gw, key.team, gw.limiter.headers(key.team)))
        raise
    kept = False
    try:
        resp, _ = await open_upstream(gw, ex, scope, raw, path=BATCHES_PATH)
        try:
            data = await resp.read()
            created = json_object(data) if resp.status == 200 else None
            if created is not None and isinstance(created.get("id"), str):
                batch_id = created["id"]
                info = {"input_file_id": file_id, "client_key": key.name, "purpose": key.purpose}
                obj = OwnedObject(
                    "batch",
                    batch_id,
                    key.team,
                    source.environment,
                    time.time(),
                    worst_case_pusd=reservation.amount_pico,
                    info=orjson.dumps(info).decode(),
                )
                await store_of(gw).add_owned_object(obj)
                gw.endpoints.batch_reservations[batch_id] = reservation
                kept = True
                await settle_if_finished(gw, scope, key, obj, created)
            await _send(gw, key, send, resp.status, data, resp)
        finally:
            resp.release()
    finally:
        await ticket.release()
        if not kept:
            await reservation.release()


async def batch_by_id(
    gw: Gateway, scope: Scope, send: Send, key: ClientKey, batch_id: str, cancel: bool
) -> None:
    obj = await owned_or_404(gw, "batch", batch_id, key)
    ex = new_exchange(as_owner(key, obj))
    path = f"{BATCHES_PATH}/{batch_id}" + ("/cancel" if cancel else "")
    resp, _ = await open_upstream(
        gw, ex, scope, b"" if cancel else None, path=path, method="POST" if cancel else "GET"
    )
    try:
        data = await resp.read()
        batch = json_object(data) if resp.status == 200 else None
        if batch is not None:
            await settle_if_finished(gw, scope, key, obj, batch)
        await _send(gw, key, send, resp.status, data, resp)
    finally:
        resp.release()


async def list_batches(gw: Gateway, scope: Scope, send: Send, key: ClientKey) -> None:
    ex = new_exchange(key)
    query = scope.get("query_string", b"").decode("latin-1")
    path = BATCHES_PATH + (f"?{query}" if query else "")
    resp, _ = await open_upstream(gw, ex, scope, None, path=path, method="GET")
    try:
        data = await resp.read()
        listing = json_object(data) if resp.status == 200 else None
        if listing is None:
            await _send(gw, key, send, resp.status, data, resp)
            return
        mine = await only_owned(gw, "batch", key.team, listing)
        for batch in mine["data"]:
            obj = await store_of(gw).get_owned_object("batch", batch["id"])
            if obj is not None:
                await register_outputs(gw, obj, batch)
                await settle_if_finished(gw, scope, key, obj, batch)
        await _send(gw, key, send, resp.status, orjson.dumps(mine), resp)
    finally:
        resp.release()
