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

One ledger record per request: ``endpoint`` ``audio.transcriptions`` or
``audio.translations``, no tokens, ``cost_pusd`` the audio price.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

import aiohttp
import orjson

from teamgate.asgi import Receive, Scope, Send, encode_headers, send_bytes
from teamgate.endpoints.audio_duration import audio_duration_s
from teamgate.endpoints.audio_pricing import AudioPrice
from teamgate.endpoints.multipart_upload import MultipartBody, UploadedForm, read_form
from teamgate.endpoints.relay import new_exchange, response_headers
from teamgate.errors import BudgetExceeded, GatewayError, InvalidRequest, RateLimited
from teamgate.ledger.records import ClientKey
from teamgate.proxy import ClientWatch, Exchange, open_upstream, record, team_headers
from teamgate.runtime import Gateway

AUDIO_TASKS = ("transcriptions", "translations")


@dataclass(slots=True)
class AudioSeconds:
    """The audio seconds one request was admitted with, corrected once to what Groq bills."""

    team: str
    model: str
    reserved: int
    corrected: bool = False

    async def correct(self, gw: Gateway, billed_s: int) -> None:
        """Set the ASH/ASD charge to ``billed_s`` (only the first call counts)."""
        if self.corrected:
            return
        self.corrected = True
        await gw.limiter.correct_audio(self.team, self.model, self.reserved, billed_s)


def _refuse(gw: Gateway, ex: Exchange, exc: GatewayError, endpoint: str, refusal: str) -> None:
    record(gw, ex, status=exc.status, refusal=refusal, endpoint=endpoint)
    exc.headers.update(team_headers(gw, ex.key.team, gw.limiter.headers(ex.key.team)))


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


async def handle_audio(
    gw: Gateway, scope: Scope, receive: Receive, send: Send, key: ClientKey, task: str
) -> None:
    """Serve one transcription or translation (``task`` in :data:`AUDIO_TASKS`)."""
    endpoint = f"audio.{task}"
    ex = new_exchange(key)
    form = await read_form(scope, receive, max_bytes=gw.settings.audio.max_file_bytes)
    try:
        try:
            ex.model_requested = (form.get("model") or "")[:200]
            model, price = plan_audio(gw, key.team, form)
            duration, _ = await file_duration(gw, form)
        except GatewayError as exc:
            _refuse(gw, ex, exc, endpoint, exc.code)
            raise
        ex.model = model
        billed = price.billed_ms(duration)
        seconds = AudioSeconds(key.team, model, -(-billed // 1000))
        gone = ClientWatch(receive)
        try:
            ticket = await gw.limiter.admit(
                key.team, model, 0, audio_seconds=seconds.reserved, client_gone=gone
            )
        except RateLimited as exc:
            _refuse(gw, ex, exc, endpoint, exc.reason)
            gone.close()
            raise
        try:
            try:
                reservation = await gw.budget.reserve(
                    key.team, price.cost_ms(billed), client_gone=gone.event
                )
            except BudgetExceeded as exc:
                _refuse(gw, ex, exc, endpoint, exc.reason)
                raise
            cost = 0
            try:
                fields = [(k, model if k == "model" else v) for k, v in form.fields]
                body = MultipartBody(fields, form.file)
                resp, _up = await open_upstream(
                    gw,
                    ex,
                    scope,
                    body,
                    path=f"/openai/v1/audio/{task}",
                    content_type=body.content_type,
                )
                cost = await _answer(
                    gw, ex, send, resp, ticket.headers(), price, duration, endpoint, seconds
                )
            finally:
                if cost:
                    await reservation.settle(cost)
                else:
                    await reservation.release()
        finally:
            await ticket.release()
            gone.close()
            await seconds.correct(gw, 0)  # not answered: Groq bills nothing
    finally:
        form.close()


async def _answer(
    gw: Gateway,
    ex: Exchange,
    send: Send,
    resp: aiohttp.ClientResponse,
    limit_headers: dict[str, str],
    price: AudioPrice,
    file_duration_s: float,
    endpoint: str,
    seconds: AudioSeconds,
) -> int:
    """Read Groq's answer, record it, correct the audio counters, then send it; the cost."""
    try:
        data = await resp.read()
    finally:
        resp.release()
    cost = billed_ms = 0
    if resp.status == 200:
        reported = reported_duration(data, resp.headers.get("content-type", ""))
        duration = file_duration_s if reported is None else reported
        billed_ms = price.billed_ms(duration)
        cost = price.cost_ms(billed_ms)
        source = "reported" if reported is not None else "estimated"
        record(gw, ex, status=200, cost=cost, endpoint=endpoint, source=source)
    else:
        record(gw, ex, status=resp.status, endpoint=endpoint)
    await seconds.correct(gw, -(-billed_ms // 1000))
    headers = response_headers(gw, ex.key.team, resp, limit_headers)
    await send_bytes(send, resp.status, data, encode_headers(headers))
    return cost
