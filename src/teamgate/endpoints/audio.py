"""``POST audio/transcriptions`` and ``audio/translations``: Whisper under team policy.

The pipeline is chat's, with audio seconds where chat has tokens:

1. read the multipart form as it arrives (the file spooled, never held whole);
2. policy: the model must be in the team's ``allowed_models`` (aliases resolve)
   and be a priced speech-to-text model;
3. the file's duration, read with mutagen; unreadable → 400, unless the
   operator set ``audio.max_unreadable_duration_s`` (then that length is assumed);
4. limits: RPM/RPD and the team's ASH/ASD (audio seconds per hour/day) charged
   with the billed length (Groq's minimum applied);
5. budget: the billed length's price is reserved;
6. the form is re-encoded (model rewritten if an alias was used) and streamed
   to Groq; Groq's answer goes back untouched;
7. settle: on 200, Groq's ``duration`` (``verbose_json``) if it gives one, else
   the file's, priced with the minimum; a failed request is not charged.
   The ASH/ASD counters are corrected to the billed length settled (given back
   in full when Groq failed the request), before the client sees the answer:
   ``Limiter.correct_audio``.

The lifecycle (admission, reservation, forwarding, the outcome and its one
record) is :class:`~teamgate.lifecycle.MeteredRequest`'s; this module is the
adapter: the form, the audio policy, the demand in seconds, and
:class:`AudioMeter` that prices Groq's answer. A request Groq received but did
not answer in time is charged the reserved length, marked ``estimated``.

One ledger record per request: ``endpoint`` ``audio.transcriptions`` or
``audio.translations``, no tokens, ``cost_pusd`` the audio price.
"""

from __future__ import annotations

import asyncio
import math

import orjson

from teamgate.endpoints.audio_duration import audio_duration_s
from teamgate.endpoints.audio_pricing import AudioPrice
from teamgate.endpoints.multipart_upload import MultipartBody, UploadedForm, read_form
from teamgate.http.asgi import Receive, Scope, Send
from teamgate.http.errors import InvalidRequest
from teamgate.ledger.records import ClientKey, UsageSource
from teamgate.lifecycle import Bill, Demand, MeteredRequest
from teamgate.lifecycle.streaming import StreamMeter
from teamgate.runtime import Gateway


def plan_audio(gw: Gateway, team: str, form: UploadedForm) -> tuple[str, AudioPrice]:
    """The real model and its price, or 400/403 as chat answers."""
    model = form.get("model")
    if not model:
        raise InvalidRequest("'model' : property 'model' is missing")
    real = gw.policies[team].resolve_model(model)
    price = gw.endpoints.audio_prices.get(real)
    if price is None:
        raise InvalidRequest(
            f"model `{model}` is not a speech-to-text model teamgate can price "
            f"(known: {', '.join(sorted(gw.endpoints.audio_prices.models()))})",
            code="model_not_supported",
        )
    if form.file is None and not form.get("url"):
        raise InvalidRequest("either 'file' or 'url' must be provided")
    return real, price


async def file_duration(gw: Gateway, form: UploadedForm) -> tuple[float, bool]:
    """(seconds, read from the file?) or 400 when unknown and no maximum is configured."""
    duration = None
    if form.file is not None:
        duration = await asyncio.to_thread(audio_duration_s, form.file.spool)
    if duration is not None:
        return duration, True
    assumed = gw.settings.audio.max_unreadable_duration_s
    if assumed is None:
        what = f"the file `{form.file.filename}`" if form.file is not None else "audio given by url"
        raise InvalidRequest(
            f"teamgate could not read the duration of {what}, which it needs to price the "
            "request. Send WAV, MP3, FLAC, OGG or M4A audio, or ask the operator to set "
            "audio.max_unreadable_duration_s.",
            code="audio_duration_unknown",
        )
    return assumed, False


def reported_duration(data: bytes, content_type: str) -> float | None:
    """``duration`` from a ``verbose_json`` answer, if Groq gave one."""
    if not content_type.startswith("application/json"):
        return None
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    value = obj.get("duration") if isinstance(obj, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value) if value > 0 else None
    return None


def seconds_of(billed_ms: int) -> int:
    """Whole audio seconds (rounded up) counted against ASH/ASD."""
    return -(-billed_ms // 1000)


class AudioMeter:
    """The :class:`~teamgate.lifecycle.Meter` of audio: seconds, not tokens.

    >>> from teamgate.endpoints.audio_pricing import AudioPriceTable
    >>> meter = AudioMeter(AudioPriceTable.builtin().get("whisper-large-v3"), 3.5)
    >>> meter.whole(b'{"duration": 12.0}', "application/json").audio_seconds
    12
    >>> meter.worst().audio_seconds, meter.worst().source   # the minimum, 10 s
    (10, 'estimated')
    """

    __slots__ = ("file_duration_s", "price")

    def __init__(self, price: AudioPrice, file_duration_s: float) -> None:
        self.price = price
        self.file_duration_s = file_duration_s

    def _bill(self, duration_s: float, source: UsageSource) -> Bill:
        billed_ms = self.price.billed_ms(duration_s)
        return Bill(
            None, self.price.cost_ms(billed_ms), source, audio_seconds=seconds_of(billed_ms)
        )

    def whole(self, data: bytes, content_type: str) -> Bill:
        reported = reported_duration(data, content_type)
        if reported is None:
            return self._bill(self.file_duration_s, "estimated")
        return self._bill(reported, "reported")

    def stream(self) -> StreamMeter:
        return StreamMeter()  # audio answers are never streamed

    def streamed(self, meter: StreamMeter) -> Bill:
        return self.worst()

    def worst(self) -> Bill:
        return self._bill(self.file_duration_s, "estimated")


async def handle_audio(
    gw: Gateway, scope: Scope, receive: Receive, send: Send, key: ClientKey, task: str
) -> None:
    """Serve one transcription or translation (``task``: ``transcriptions`` or ``translations``)."""
    async with MeteredRequest(gw, scope, receive, send, key, f"audio.{task}") as mr:
        form = await read_form(scope, receive, max_bytes=gw.settings.audio.max_file_bytes)
        try:
            mr.describe(form.get("model") or "")
            model, price = plan_audio(gw, key.team, form)
            duration, _ = await file_duration(gw, form)
            mr.describe(form.get("model") or "", model)
            billed = price.billed_ms(duration)
            await mr.admit(
                Demand(model, 0, price.cost_ms(billed), audio_seconds=seconds_of(billed))
            )
            fields = [(k, model if k == "model" else v) for k, v in form.fields]
            body = MultipartBody(fields, form.file)
            opened = await mr.forward(
                body,
                AudioMeter(price, duration),
                path=f"/openai/v1/audio/{task}",
                content_type=body.content_type,
            )
            mr.settle_first = True  # the audio counters are corrected before the answer
            await mr.relay(opened)
        finally:
            form.close()
