"""The Batch API under team budgets: reserve the worst case at creation, settle on completion.

* ``POST batches``: the input file must be the key's own (same team and
  environment) and checked by teamgate (uploaded through ``POST files``);
  the body Groq receives is re-encoded from the checked object; ``endpoint`` must be
  ``/v1/chat/completions``. The file's worst case at the batch price (50 % of
  on-demand, exact) is reserved against the team's and the org's budgets before
  Groq sees the request; a refusal is 429 ``budget_exceeded``. The creation
  counts as ONE request against the team's (and the org's) RPM/RPD, and holds
  a concurrency slot while Groq answers; it is not charged to TPM/TPD nor to
  per-model limits: Groq runs batches outside the on-demand limits, with
  limits of its own. Over a limit: 429 ``rate_limit_exceeded`` (or queued, by
  the team's ``on_limit``).
* ``GET batches/{id}``, ``POST batches/{id}/cancel``: owner (team and
  environment) only, 404 otherwise; a batch seen finished is settled
  (:mod:`.batch_settlement`).
* ``GET batches``: Groq's list, only the key's own batches.

Creation is a :class:`~teamgate.lifecycle.MeteredRequest` (endpoint
``batches.create``, cost 0: its one record says who created what; the batch is
charged when it settles, see :mod:`.batch_settlement`). Its reservation is
handed over to the batch on a 200, and released on any other outcome.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from teamgate.endpoints.batch_lines import BATCH_URLS
from teamgate.endpoints.batch_settlement import register_outputs, settle_if_finished
from teamgate.endpoints.chat import decode_body
from teamgate.endpoints.ownership import (
    json_object,
    not_found,
    only_owned,
    owned_or_404,
    owns,
    store_of,
)
from teamgate.endpoints.relay import open_for
from teamgate.http.asgi import Receive, Scope, Send, read_body, send_bytes
from teamgate.http.errors import InvalidRequest
from teamgate.ledger.owned import OwnedObject
from teamgate.ledger.records import ClientKey
from teamgate.lifecycle import Demand, MeteredRequest, ObjectMeter, answer_headers, payer_of
from teamgate.runtime import Gateway

BATCHES_PATH = "/openai/v1/batches"


def check_batch_body(body: dict[str, Any]) -> str:
    """The ``input_file_id`` of a batch creation body, or a Groq-shaped 400."""
    file_id = body.get("input_file_id")
    if not isinstance(file_id, str) or not file_id:
        raise InvalidRequest("'input_file_id' : property 'input_file_id' is missing")
    endpoint = body.get("endpoint")
    if endpoint not in BATCH_URLS:
        raise InvalidRequest(
            f"'endpoint' : {endpoint!r} is not allowed through teamgate "
            f"(allowed: {', '.join(sorted(BATCH_URLS))})"
        )
    return file_id


async def create_batch(
    gw: Gateway, scope: Scope, receive: Receive, send: Send, key: ClientKey
) -> None:
    async with MeteredRequest(gw, scope, receive, send, key, "batches.create") as mr:
        raw = await read_body(scope, receive, gw.settings.server.max_body_bytes)
        body = decode_body(raw)
        file_id = check_batch_body(body)
        source = await store_of(gw).get_owned_object("file", file_id)
        if source is None or not owns(key, source):
            raise not_found("file", file_id)
        info = json_object(source.info.encode()) if source.info else None
        if info is None:  # a batch output file, never checked as input
            raise InvalidRequest(f"file `{file_id}` was not uploaded as a batch input file")
        models = info.get("models")
        mr.describe("", ",".join(models)[:200] if isinstance(models, list) else "")
        # One request against RPM/RPD (and a concurrency slot); see the module docstring.
        await mr.admit(Demand("", 0, source.worst_case_pusd))

        async def register(data: bytes) -> None:
            created = json_object(data)
            if created is None or not isinstance(created.get("id"), str):
                return
            reservation = mr.keep_reservation()
            about = {
                "input_file_id": file_id,
                "client_key": key.name,
                "purpose": key.purpose,
                "end_user": mr.attribution.end_user,  # the settled records carry them too
                "tags": mr.attribution.tags,
            }
            obj = OwnedObject(
                "batch",
                created["id"],
                key.team,
                key.environment,
                time.time(),
                worst_case_pusd=reservation.amount_pico if reservation is not None else 0,
                info=orjson.dumps(about).decode(),
            )
            await store_of(gw).add_owned_object(obj)
            if reservation is not None:
                gw.endpoints.batch_reservations[obj.object_id] = reservation
            await settle_if_finished(gw, scope, key, obj, created)

        out = orjson.dumps(body)  # re-encoded: Groq reads the file id and endpoint checked
        opened = await mr.forward(out, ObjectMeter(source.worst_case_pusd), path=BATCHES_PATH)
        await mr.relay(opened, on_served=register)


async def batch_by_id(
    gw: Gateway, scope: Scope, send: Send, key: ClientKey, batch_id: str, cancel: bool
) -> None:
    obj = await owned_or_404(gw, "batch", batch_id, key)
    path = f"{BATCHES_PATH}/{batch_id}" + ("/cancel" if cancel else "")
    opened = await open_for(
        gw, key, scope, b"" if cancel else None, path=path, method="POST" if cancel else "GET"
    )
    resp = opened.resp
    try:
        data = await resp.read()
        batch = json_object(data) if resp.status == 200 else None
        if batch is not None:
            await settle_if_finished(gw, scope, key, obj, batch)
        headers = answer_headers(gw, payer_of(key), resp)
        await send_bytes(send, resp.status, data, headers)
    finally:
        resp.release()


async def list_batches(gw: Gateway, scope: Scope, send: Send, key: ClientKey) -> None:
    query = scope.get("query_string", b"").decode("latin-1")
    path = BATCHES_PATH + (f"?{query}" if query else "")
    opened = await open_for(gw, key, scope, None, path=path)
    resp = opened.resp
    try:
        data = await resp.read()
        listing = json_object(data) if resp.status == 200 else None
        out = data
        if listing is not None:
            mine = await only_owned(gw, "batch", key, listing)
            for batch in mine["data"]:
                obj = await store_of(gw).get_owned_object("batch", batch["id"])
                if obj is not None:
                    await register_outputs(gw, obj, batch)
                    await settle_if_finished(gw, scope, key, obj, batch)
            out = orjson.dumps(mine)
        headers = answer_headers(gw, payer_of(key), resp)
        await send_bytes(send, resp.status, out, headers)
    finally:
        resp.release()
