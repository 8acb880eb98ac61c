"""Multipart uploads: parse the client's body as it arrives, re-encode it for Groq.

:func:`read_form` feeds the request body chunk by chunk to a push parser:
small fields are kept in memory, the file part goes to a
``SpooledTemporaryFile`` (in memory up to 1 MiB, then on disk), so a large
upload is never held whole in memory. :class:`MultipartBody` writes the
(possibly changed) fields and the spooled file back out as a fresh multipart
stream, once per upstream attempt.

>>> body = MultipartBody([("model", "whisper-large-v3")], None, boundary="b")
>>> body.content_type
'multipart/form-data; boundary=b'
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from tempfile import SpooledTemporaryFile
from typing import IO

from multipart import (  # type: ignore[import-untyped]
    MultipartError,
    MultipartSegment,
    PushMultipartParser,
    content_disposition_quote,
    parse_options_header,
)

from teamgate.http.asgi import ClientDisconnected, Receive, Scope, header
from teamgate.http.errors import InvalidRequest, PayloadTooLarge

SPOOL_IN_MEMORY_BYTES = 1024 * 1024
MAX_FIELD_BYTES = 64 * 1024
CHUNK_BYTES = 64 * 1024


@dataclass(slots=True)
class UploadedFile:
    """The form's file part, spooled."""

    field: str
    filename: str
    content_type: str
    spool: IO[bytes]
    size: int = 0


@dataclass(slots=True)
class UploadedForm:
    """A parsed multipart form: text fields in order, and at most one file."""

    fields: list[tuple[str, str]] = field(default_factory=list)
    file: UploadedFile | None = None

    def get(self, name: str) -> str | None:
        for key, value in self.fields:
            if key == name:
                return value
        return None

    def close(self) -> None:
        if self.file is not None:
            self.file.spool.close()


def _boundary(scope: Scope) -> str:
    raw = header(scope, b"content-type")
    kind, options = parse_options_header(raw.decode("latin-1") if raw else "")
    boundary = options.get("boundary")
    if kind != "multipart/form-data" or not boundary:
        raise InvalidRequest(
            "Request must be multipart/form-data with a boundary", code="invalid_content_type"
        )
    return str(boundary)


async def read_form(scope: Scope, receive: Receive, *, max_bytes: int) -> UploadedForm:
    """Read the whole multipart body; 400 on a broken body, 413 over ``max_bytes``."""
    parser = PushMultipartParser(_boundary(scope), max_header_count=16)
    form = UploadedForm()
    total = 0
    current: MultipartSegment | None = None
    text = bytearray()
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected()
            chunk: bytes = message.get("body", b"")
            total += len(chunk)
            if total > max_bytes:
                raise PayloadTooLarge(f"Request body is over the limit of {max_bytes} bytes.")
            more = message.get("more_body", False)
            for event in parser.parse(chunk) if chunk else ():
                current = _on_event(form, event, current, text)
            if not more:
                for event in parser.parse(b""):
                    current = _on_event(form, event, current, text)
                break
        parser.close()
    except MultipartError as exc:
        form.close()
        raise InvalidRequest(f"Could not parse the multipart body: {exc}") from None
    except BaseException:
        form.close()
        raise
    return form


def _on_event(
    form: UploadedForm,
    event: MultipartSegment | bytes | None,
    current: MultipartSegment | None,
    text: bytearray,
) -> MultipartSegment | None:
    if isinstance(event, MultipartSegment):
        text.clear()
        if event.filename is not None:
            if form.file is not None:
                raise InvalidRequest("Only one file may be uploaded per request")
            spool = SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115
            form.file = UploadedFile(
                event.name or "file",
                event.filename,
                event.content_type or "application/octet-stream",
                spool,
            )
        return event
    if event is None:
        if current is not None and current.filename is None:
            form.fields.append((current.name or "", text.decode("utf-8", "replace")))
        text.clear()
        return None
    if current is not None and current.filename is not None and form.file is not None:
        form.file.spool.write(event)
        form.file.size += len(event)
    else:
        text.extend(event)
        if len(text) > MAX_FIELD_BYTES:
            raise InvalidRequest(f"A form field is over {MAX_FIELD_BYTES} bytes")
    return current


class MultipartBody:
    """A multipart/form-data body for Groq: fields, then the file read from its spool.

    Call it for a fresh async iterator of bytes (one per upstream attempt).
    """

    def __init__(
        self,
        fields: list[tuple[str, str]],
        file: UploadedFile | None,
        *,
        boundary: str | None = None,
    ) -> None:
        self.fields = fields
        self.file = file
        self.boundary = boundary or f"teamgate-{uuid.uuid4().hex}"

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def _part_head(self, name: str, filename: str | None, content_type: str | None) -> bytes:
        disposition = f"form-data; name={content_disposition_quote(name)}"
        if filename is not None:
            disposition += f"; filename={content_disposition_quote(filename)}"
        head = f"--{self.boundary}\r\nContent-Disposition: {disposition}\r\n"
        if content_type:
            head += f"Content-Type: {content_type}\r\n"
        return (head + "\r\n").encode()

    def __call__(self) -> AsyncIterator[bytes]:
        return self._stream()

    async def _stream(self) -> AsyncIterator[bytes]:
        for name, value in self.fields:
            yield self._part_head(name, None, None) + value.encode() + b"\r\n"
        if self.file is not None:
            f = self.file
            yield self._part_head(f.field, f.filename, f.content_type)
            f.spool.seek(0)
            while True:
                chunk = f.spool.read(CHUNK_BYTES)
                if not chunk:
                    break
                yield chunk
            yield b"\r\n"
        yield f"--{self.boundary}--\r\n".encode()
