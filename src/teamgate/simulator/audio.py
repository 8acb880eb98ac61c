"""Simulated Groq speech-to-text: ``audio/transcriptions`` and ``audio/translations``.

The multipart body is parsed whole (the simulator is a test double); the
audio's duration is read with mutagen, so ``verbose_json`` answers carry the
real ``duration`` as Groq's do.

>>> answer_format("verbose_json")
'verbose_json'
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

import mutagen
import orjson
from multipart import MultipartError, MultipartParser, parse_options_header  # type: ignore[import-untyped]

from teamgate.simulator.groq_errors import ErrorAnswer, invalid_request

_JSON = (b"content-type", b"application/json")
_TEXT = (b"content-type", b"text/plain; charset=utf-8")
TRANSCRIPT = "Simulated transcript."


@dataclass(slots=True)
class AudioForm:
    """The fields of one audio request, and the file's duration (None: unreadable)."""

    fields: dict[str, str] = field(default_factory=dict)
    filename: str = ""
    file_bytes: int = 0
    duration_s: float | None = None
    data: bytes = b""


def answer_format(value: str | None) -> str:
    return value if value in ("json", "text", "verbose_json", "srt", "vtt") else "json"


def parse_audio_form(content_type: str, body: bytes) -> AudioForm | str:
    """The parsed form, or a problem text."""
    kind, options = parse_options_header(content_type)
    boundary = options.get("boundary")
    if kind != "multipart/form-data" or not boundary:
        return "Request must be multipart/form-data"
    form = AudioForm()
    try:
        size = len(body) + 1
        parser = MultipartParser(
            io.BytesIO(body), boundary, len(body), spool_limit=size, memory_limit=size
        )
        for part in parser:
            try:
                if part.filename is not None:
                    data = part.raw
                    form.filename = part.filename
                    form.file_bytes = len(data)
                    form.data = data
                    form.duration_s = read_duration(data)
                else:
                    form.fields[part.name] = part.value
            finally:
                part.close()
    except MultipartError as exc:
        return f"could not parse multipart body: {exc}"
    return form


def read_duration(data: bytes) -> float | None:
    try:
        audio = mutagen.File(io.BytesIO(data))
    except Exception:
        return None
    length = getattr(getattr(audio, "info", None), "length", None)
    if not isinstance(length, int | float) or not math.isfinite(length) or length <= 0:
        return None
    return float(length)


def audio_answer(
    task: str, form: AudioForm, request_id: str, models: frozenset[str]
) -> ErrorAnswer:
    """Groq's answer to a transcription (``task`` transcribe) or translation (translate)."""
    model = form.fields.get("model")
    if not model:
        return invalid_request("'model' : property 'model' is missing")
    if model not in models or not model.startswith("whisper"):
        return invalid_request(f"The model `{model}` does not support audio.", "model_not_found")
    if not form.file_bytes and not form.fields.get("url"):
        return invalid_request("either 'file' or 'url' must be provided")
    if form.duration_s is None and not form.fields.get("url"):
        return invalid_request("could not process file - is it a valid media file?")
    fmt = answer_format(form.fields.get("response_format"))
    x_groq = {"id": request_id}
    if fmt == "text":
        return 200, [_TEXT], TRANSCRIPT.encode()
    if fmt in ("srt", "vtt"):
        return 200, [_TEXT], f"1\n00:00:00,000 --> 00:00:01,000\n{TRANSCRIPT}\n".encode()
    if fmt == "verbose_json":
        duration = form.duration_s or 0.0
        body = {
            "task": task,
            "language": "English",
            "duration": duration,
            "text": TRANSCRIPT,
            "segments": [{"id": 0, "seek": 0, "start": 0.0, "end": duration, "text": TRANSCRIPT}],
            "x_groq": x_groq,
        }
        return 200, [_JSON], orjson.dumps(body)
    return 200, [_JSON], orjson.dumps({"text": TRANSCRIPT, "x_groq": x_groq})
