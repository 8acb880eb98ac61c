"""Routes of the simulated Groq beyond chat: audio, files, batches, responses, embeddings.

:func:`handle_extra` answers one request under ``/openai/v1/`` or returns
False when the path is not one of these (the caller answers 404). Every
request is recorded in :class:`~teamgate.simulator.state.SimulatorState` with
its body (JSON, or the multipart fields with ``file`` as its filename).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import orjson

from teamgate.simulator.asgi import Receive, Send, read_body, send_response
from teamgate.simulator.audio import AudioForm, audio_answer, parse_audio_form
from teamgate.simulator.completions import new_request_id
from teamgate.simulator.groq_errors import (
    ErrorAnswer,
    error_answer,
    invalid_api_key,
    invalid_request,
    model_not_found,
)
from teamgate.simulator.requests import RequestHeaders
from teamgate.simulator.responses_api import SimResponse, embeddings_body

if TYPE_CHECKING:
    from teamgate.simulator.app import Simulator

PREFIX = "/openai/v1/"
_JSON = (b"content-type", b"application/json")
_SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
_ROOTS = ("audio/", "files", "batches", "responses", "embeddings")


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
    if handle.record is not None and isinstance(record_body, dict):
        model = record_body.get("model")
        handle.record.model = model if isinstance(model, str) else None
    status: int | None = None
    try:
        if headers.key is None or not sim.keys.accepts(headers.key):
            answer = invalid_api_key()
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
            status = await _responses(sim, raw, request_id, send)
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
        else:
            answer = _files_batches(sim, headers.key, method, route, raw, form)
        status = answer[0]
        await sim._answer(send, answer, request_id)
    finally:
        sim.state.finish(handle, status)
    return True


async def _responses(sim: Simulator, raw: bytes, request_id: str, send: Send) -> int | None:
    body = _object(raw)
    if body is None:
        return None
    if not isinstance(body.get("model"), str):
        await sim._answer(
            send, invalid_request("'model' : property 'model' is missing"), request_id
        )
        return 400
    if body["model"] not in sim._models:
        await sim._answer(send, model_not_found(body["model"]), request_id)
        return 404
    response = SimResponse(body, sim.config.completion_tokens)
    base = [(b"x-request-id", request_id.encode())]
    if body.get("stream") is True:
        await send({"type": "http.response.start", "status": 200, "headers": [*_SSE, *base]})
        for event in response.events():
            await send({"type": "http.response.body", "body": event, "more_body": True})
            await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    else:
        await send_response(send, 200, [_JSON, *base], response.body())
    return 200


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
