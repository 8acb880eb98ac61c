"""Routes of the simulated Groq beyond chat: audio, files, batches, responses, embeddings.

:func:`handle_extra` answers one request under ``/openai/v1/`` or returns
False when the path is not one of these (the caller answers 404). Every
request is recorded in :class:`~teamgate.simulator.state.SimulatorState` with
its body (JSON, or the multipart fields with ``file`` as its filename) and its
raw bytes.

Faults (the ``x-sim-fault`` header or queued specs, as for chat) apply to the
metered routes — ``POST responses``, ``embeddings``, ``audio/*`` and
``batches`` — : latency, holds, hang-ups, any status, and for a streamed
Responses answer ``stream_break;after=N`` (the connection cut after N text
deltas). Answered Responses and embeddings are billed in the state's token
counters like chat.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import orjson

from teamgate.simulator.asgi import Receive, Send, drop_connection, read_body, send_response
from teamgate.simulator.audio import AudioForm, audio_answer, parse_audio_form
from teamgate.simulator.completions import new_request_id
from teamgate.simulator.faults import NO_FAULT, FaultPlan, FaultSpecError
from teamgate.simulator.groq_errors import (
    ErrorAnswer,
    error_answer,
    fault_answer,
    invalid_api_key,
    invalid_request,
    model_not_found,
)
from teamgate.simulator.requests import RequestHeaders
from teamgate.simulator.responses_api import SimResponse, embeddings_body, embeddings_tokens
from teamgate.simulator.state import InFlight

if TYPE_CHECKING:
    from teamgate.simulator.app import Simulator

PREFIX = "/openai/v1/"
_JSON = (b"content-type", b"application/json")
_SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
_ROOTS = ("audio/", "files", "batches", "responses", "embeddings")
_METERED = ("responses", "embeddings", "audio/transcriptions", "audio/translations", "batches")


def _not_found(kind: str, object_id: str) -> ErrorAnswer:
    return error_answer(
        404, f"{kind} `{object_id}` not found", "invalid_request_error", "not_found"
    )


def _json(obj: Any) -> ErrorAnswer:
    return 200, [_JSON], orjson.dumps(obj)


def _object(raw: bytes) -> dict[str, Any] | None:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


async def handle_extra(
    sim: Simulator,
    method: str,
    path: str,
    headers: RequestHeaders,
    scope: Any,
    receive: Receive,
    send: Send,
) -> bool:
    route = path[len(PREFIX) :]
    if not path.startswith(PREFIX) or not route.startswith(_ROOTS):
        return False
    raw = await read_body(receive)
    content_type = headers.all.get("content-type", "")
    if not content_type:
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
    record_body: Any = None
    form = None
    if content_type.startswith("multipart/"):
        form = parse_audio_form(content_type, raw)
        if not isinstance(form, str):
            record_body = {**form.fields, "file": form.filename}
    else:
        record_body = _object(raw) if raw else None
    request_id = new_request_id()
    handle = sim._begin(method, path, headers, record_body)
    model: str | None = None
    if isinstance(record_body, dict) and isinstance(record_body.get("model"), str):
        model = record_body["model"]
    if handle.record is not None:
        handle.record.model = model
        handle.record.raw = raw
    status: int | None = None
    billed: tuple[int, int] | None = None
    try:
        plan = NO_FAULT
        if method == "POST" and route in _METERED and headers.key is not None:
            try:
                plan = sim._chat_fault(headers)
            except FaultSpecError as exc:
                answer = invalid_request(str(exc), "invalid_fault_spec")
                status = answer[0]
                await sim._answer(send, answer, request_id)
                return True
            if handle.record is not None and plan is not NO_FAULT:
                handle.record.fault = plan.spec
            if await sim._early_fault(plan, send, receive, handle):
                return True
        if headers.key is None or not sim.keys.accepts(headers.key):
            answer = invalid_api_key()
        elif plan.status is not None:
            answer = fault_answer(plan, model or "-", 0)
        elif route.startswith("audio/") and method == "POST":
            task = {"audio/transcriptions": "transcribe", "audio/translations": "translate"}
            if route not in task:
                answer = error_answer(
                    404,
                    f"Unknown request URL: {method} {path}",
                    "invalid_request_error",
                    "unknown_url",
                )
            elif form is None or isinstance(form, str):
                answer = invalid_request(form or "Request must be multipart/form-data")
            else:
                answer = audio_answer(task[route], form, request_id, sim._models)
        elif route == "responses" and method == "POST":
            status, billed = await _responses(sim, raw, request_id, send, receive, plan, handle)
            if status is not None:
                return True
            answer = invalid_request("could not parse the request")
        elif route == "embeddings" and method == "POST":
            body = _object(raw)
            if body is None or not isinstance(body.get("model"), str):
                answer = invalid_request("'model' : property 'model' is missing")
            elif body["model"] not in sim._models:
                answer = model_not_found(body["model"])
            else:
                answer = 200, [_JSON], embeddings_body(body)
                billed = (embeddings_tokens(body), 0)
        else:
            answer = _files_batches(sim, headers.key, method, route, raw, form)
        status = answer[0]
        await sim._answer(send, answer, request_id)
    finally:
        sim.state.finish(handle, status, billed)
    return True


async def _responses(
    sim: Simulator,
    raw: bytes,
    request_id: str,
    send: Send,
    receive: Receive,
    plan: FaultPlan,
    handle: InFlight,
) -> tuple[int | None, tuple[int, int] | None]:
    """Answer a Responses request: (status or None if unparsable, billed tokens or None)."""
    body = _object(raw)
    if body is None:
        return None, None
    if not isinstance(body.get("model"), str):
        await sim._answer(
            send, invalid_request("'model' : property 'model' is missing"), request_id
        )
        return 400, None
    if body["model"] not in sim._models:
        await sim._answer(send, model_not_found(body["model"]), request_id)
        return 404, None
    response = SimResponse(body, sim.config.completion_tokens)
    billed = (response.input_tokens, response.output_tokens)
    base = [(b"x-request-id", request_id.encode())]
    if body.get("stream") is True:
        await send({"type": "http.response.start", "status": 200, "headers": [*_SSE, *base]})
        deltas = 0
        for event in response.events():
            if plan.stream_break_after is not None and deltas >= plan.stream_break_after:
                sim.state.finish(handle, 200)  # cut: Groq bills nothing it did not finish
                await drop_connection(send, receive, reset=False)
                return 200, None
            await send({"type": "http.response.body", "body": event, "more_body": True})
            deltas += event.startswith(b"event: response.output_text.delta")
            await asyncio.sleep(plan.chunk_delay_s)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    else:
        await send_response(send, 200, [_JSON, *base], response.body())
    return 200, billed


def _files_batches(
    sim: Simulator, key: str, method: str, route: str, raw: bytes, form: object
) -> ErrorAnswer:
    world = sim.batch_world
    parts = route.split("/")
    if parts[0] == "files":
        if len(parts) == 1 and method == "GET":
            return _json({"object": "list", "data": world.files(key)})
        if len(parts) == 1 and method == "POST":
            if not isinstance(form, AudioForm) or not form.filename:
                return invalid_request("'file' : a file is required")
            purpose = form.fields.get("purpose", "")
            if purpose != "batch":
                return invalid_request(f"'purpose' : must be batch, got {purpose!r}")
            return _json(world.add_file(key, form.filename, purpose, form.data))
        file_id = parts[1] if len(parts) > 1 else ""
        if len(parts) == 2 and method == "GET":
            found = world.file(key, file_id)
            return _json(found) if found else _not_found("file", file_id)
        if len(parts) == 2 and method == "DELETE":
            if world.delete_file(key, file_id):
                return _json({"id": file_id, "object": "file", "deleted": True})
            return _not_found("file", file_id)
        if len(parts) == 3 and parts[2] == "content" and method == "GET":
            data = world.content(key, file_id)
            if data is None:
                return _not_found("file", file_id)
            return 200, [(b"content-type", b"application/octet-stream")], data
    if parts[0] == "batches":
        if len(parts) == 1 and method == "GET":
            return _json({"object": "list", "data": world.batches(key), "has_more": False})
        if len(parts) == 1 and method == "POST":
            body = _object(raw) or {}
            created = world.create_batch(
                key,
                str(body.get("input_file_id")),
                str(body.get("endpoint")),
                str(body.get("completion_window", "24h")),
            )
            return invalid_request(created) if isinstance(created, str) else _json(created)
        batch_id = parts[1] if len(parts) > 1 else ""
        if len(parts) == 2 and method == "GET":
            found = world.batch(key, batch_id)
            return _json(found) if found else _not_found("batch", batch_id)
        if len(parts) == 3 and parts[2] == "cancel" and method == "POST":
            found = world.cancel(key, batch_id)
            return _json(found) if found else _not_found("batch", batch_id)
    return error_answer(
        404,
        f"Unknown request URL: {method} /openai/v1/{route}",
        "invalid_request_error",
        "unknown_url",
    )
