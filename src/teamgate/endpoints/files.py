"""The Files API for batch input: every line checked before Groq sees it; files owned per team.

* ``POST files`` (multipart, ``purpose=batch``, JSONL): the file is spooled,
  checked and (if an alias or a missing cap needs it) rewritten line by line by
  :func:`~teamgate.endpoints.batch_lines.check_batch_file`; a file with lines at
  fault is refused with 400 naming them and never reaches Groq. The accepted
  file's worst case at the batch price is stored with its owner.
* ``GET files``: Groq's list, only the key's own (team and environment) files.
* ``GET files/{id}``, ``GET files/{id}/content``, ``DELETE files/{id}``: only
  the owner's team and environment; any other id answers 404 as if it did not exist.

Uploads are not charged (the batch that uses a file is), but each leaves one
ledger record (``endpoint: files``) through :class:`~teamgate.lifecycle.MeteredRequest`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from tempfile import SpooledTemporaryFile

import aiohttp
import orjson

from teamgate.endpoints.batch_lines import check_batch_file
from teamgate.endpoints.multipart_upload import (
    SPOOL_IN_MEMORY_BYTES,
    MultipartBody,
    UploadedFile,
    read_form,
)
from teamgate.endpoints.ownership import json_object, only_owned, owned_or_404, store_of
from teamgate.endpoints.relay import open_for, relay_whole
from teamgate.http.asgi import Receive, Scope, Send, send_bytes
from teamgate.http.errors import InvalidRequest
from teamgate.ledger.owned import OwnedObject
from teamgate.ledger.records import ClientKey
from teamgate.lifecycle import MeteredRequest, ObjectMeter, answer_headers, payer_of
from teamgate.runtime import Gateway

FILES_PATH = "/openai/v1/files"
BATCH_FILE_MAX_BYTES = 100 * 1024 * 1024


async def upload_file(
    gw: Gateway, scope: Scope, receive: Receive, send: Send, key: ClientKey
) -> None:
    """``POST files``: check a batch JSONL file, then upload it to the key's Project."""
    async with MeteredRequest(gw, scope, receive, send, key, "files") as mr:
        form = await read_form(scope, receive, max_bytes=BATCH_FILE_MAX_BYTES)
        checked_spool = SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115
        try:
            purpose = form.get("purpose")
            if purpose != "batch":
                raise InvalidRequest(
                    f"'purpose' : teamgate accepts only batch files, got {purpose!r}",
                    code="invalid_purpose",
                )
            if form.file is None:
                raise InvalidRequest("'file' : a JSONL file is required")
            checked = await asyncio.to_thread(
                check_batch_file,
                form.file.spool,
                checked_spool,
                gw.policies[key.team],
                gw.prices,
            )
            mr.describe("", ",".join(sorted(checked.models))[:200])
            mr.refuse_if_backlogged()
            upload = UploadedFile(
                form.file.field, form.file.filename, form.file.content_type, checked_spool
            )
            body = MultipartBody(form.fields, upload)

            async def register(data: bytes) -> None:
                created = json_object(data)
                if created is not None and isinstance(created.get("id"), str):
                    info = {"lines": checked.lines, "models": sorted(checked.models)}
                    await store_of(gw).add_owned_object(
                        OwnedObject(
                            "file",
                            created["id"],
                            key.team,
                            key.environment,
                            time.time(),
                            worst_case_pusd=checked.worst_case_pusd,
                            info=orjson.dumps(info).decode(),
                        )
                    )

            opened = await mr.forward(
                body, ObjectMeter(), path=FILES_PATH, content_type=body.content_type
            )
            await mr.relay(opened, on_served=register)
        finally:
            checked_spool.close()
            form.close()


async def list_files(gw: Gateway, scope: Scope, send: Send, key: ClientKey) -> None:
    opened = await open_for(gw, key, scope, None, path=FILES_PATH)
    resp = opened.resp
    try:
        data = await resp.read()
        listing = json_object(data) if resp.status == 200 else None
        out = data if listing is None else orjson.dumps(await only_owned(gw, "file", key, listing))
        headers = answer_headers(gw, payer_of(key), resp)
        await send_bytes(send, resp.status, out, headers)
    finally:
        resp.release()


async def file_by_id(
    gw: Gateway, scope: Scope, send: Send, key: ClientKey, file_id: str, rest: str, method: str
) -> None:
    """``GET|DELETE files/{id}`` and ``GET files/{id}/content``, for the owner only."""
    await owned_or_404(gw, "file", file_id, key)
    path = f"{FILES_PATH}/{file_id}" + ("/content" if rest else "")
    opened = await open_for(gw, key, scope, None, path=path, method=method)
    resp = opened.resp
    try:
        if rest:
            await _stream_content(gw, key, send, resp)
            return
        await relay_whole(gw, key, send, resp)
        if method == "DELETE" and resp.status == 200:
            await store_of(gw).delete_owned_object("file", file_id)
    finally:
        resp.release()


async def _stream_content(
    gw: Gateway, key: ClientKey, send: Send, resp: aiohttp.ClientResponse
) -> None:
    """Relay a file's bytes as they arrive (an output file can be large)."""
    headers = answer_headers(gw, payer_of(key), resp)
    await send({"type": "http.response.start", "status": resp.status, "headers": headers})
    with contextlib.suppress(OSError):
        async for chunk in resp.content.iter_any():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
