"""Speech-to-text through teamgate: policy, duration pricing, audio limits, the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from teamgate.simulator import Simulator
from tests.conftest import RunningGateway, start_gateway
from tests.support.audio_files import wav_bytes
from tests.support.ledger_wait import records_after
from tests.support.sdk_clients import error_of, groq_client, openai_client

PATCH: dict[str, Any] = {
    "teams": {
        "analytics": {
            "allowed_models": ["llama-3.1-8b-instant", "whisper-large-v3-turbo"],
            "limits": {"ash": 60},
            "on_limit": "reject",
        },
        "research": {"allowed_models": ["whisper-large-v3", "llama-3.1-8b-instant"]},
    },
    "aliases": {"fast": "llama-3.1-8b-instant", "stt": "whisper-large-v3"},
}


@pytest.fixture
def gw(simulator: Simulator, tmp_path: Path) -> Iterator[RunningGateway]:
    yield from start_gateway(simulator, tmp_path, PATCH)


def audio_records(gw: RunningGateway, count: int = 1) -> list[Any]:
    return [r for r in records_after(gw, count) if r.endpoint.startswith("audio.")]


def test_transcription_of_a_real_wav_is_charged_duration_times_price(
    gw: RunningGateway,
) -> None:
    client = openai_client(gw, gw.key("research"))
    # 12.5 s: above Groq's 10 s minimum, so the length itself is billed.
    result = client.audio.transcriptions.create(
        model="whisper-large-v3",
        file=("tone.wav", wav_bytes(12.5), "audio/wav"),
        response_format="verbose_json",
    )
    assert result.text
    [rec] = audio_records(gw)
    assert rec.endpoint == "audio.transcriptions" and rec.status == 200
    # $0.111/h x 12.5 s = 111e9 pico x 12500 / 3.6e6 ms, rounded up.
    assert rec.cost_pusd == -(-111 * 10**9 * 12500 // 3_600_000) == 385416667
    assert rec.usage_source == "reported"  # verbose_json carried Groq's duration
    sent = gw.simulator.state.requests()[-1]
    assert sent.path == "/openai/v1/audio/transcriptions"
    assert sent.body["model"] == "whisper-large-v3" and sent.body["file"] == "tone.wav"


def test_short_audio_is_billed_the_minimum_length_and_alias_is_rewritten(
    gw: RunningGateway,
) -> None:
    client = groq_client(gw, gw.key("research"))  # the openai SDK deprecates translations
    result = client.audio.translations.create(model="stt", file=("a.wav", wav_bytes(3.5)))
    assert result.text
    [rec] = audio_records(gw)
    assert rec.endpoint == "audio.translations"
    assert rec.model_requested == "stt" and rec.model_served == "whisper-large-v3"
    assert rec.cost_pusd == -(-111 * 10**9 * 10_000 // 3_600_000)  # 10 s minimum
    assert rec.usage_source == "estimated"  # plain json: the file's own duration
    assert gw.simulator.state.requests()[-1].body["model"] == "whisper-large-v3"


def test_model_outside_allowlist_is_403_and_never_forwarded(gw: RunningGateway) -> None:
    client = openai_client(gw, gw.key("chatbot"))
    with pytest.raises(openai.PermissionDeniedError) as err:
        client.audio.transcriptions.create(model="whisper-large-v3", file=("a.wav", wav_bytes(1)))
    assert error_of(err.value)["code"] == "model_not_allowed"
    assert gw.simulator.state.request_count() == 0


def test_chat_model_on_audio_endpoint_is_400(gw: RunningGateway) -> None:
    client = openai_client(gw, gw.key("research"))
    with pytest.raises(openai.BadRequestError) as err:
        client.audio.transcriptions.create(
            model="llama-3.1-8b-instant", file=("a.wav", wav_bytes(1))
        )
    assert error_of(err.value)["code"] == "model_not_supported"


def test_unreadable_audio_is_refused_with_a_clear_400(gw: RunningGateway) -> None:
    client = openai_client(gw, gw.key("research"))
    with pytest.raises(openai.BadRequestError) as err:
        client.audio.transcriptions.create(
            model="whisper-large-v3", file=("junk.webm", b"\x1a\x45\xdf\xa3 not really audio")
        )
    error = error_of(err.value)
    assert error["code"] == "audio_duration_unknown"
    assert "junk.webm" in error["message"] and "max_unreadable_duration_s" in error["message"]
    assert gw.simulator.state.request_count() == 0
    [rec] = audio_records(gw)
    assert rec.status == 400 and rec.cost_pusd == 0


def test_over_the_audio_seconds_limit_is_429(gw: RunningGateway) -> None:
    client = openai_client(gw, gw.key("analytics"))
    # ash 60: 10 s minimum each, so 6 short files fit in the hour and the 7th does not.
    for _ in range(6):
        client.audio.transcriptions.create(
            model="whisper-large-v3-turbo", file=("a.wav", wav_bytes(2))
        )
    with pytest.raises(openai.RateLimitError) as err:
        client.audio.transcriptions.create(
            model="whisper-large-v3-turbo", file=("a.wav", wav_bytes(2))
        )
    error = error_of(err.value)
    assert "audio seconds per hour (ASH)" in error["message"]
    assert err.value.response.headers["retry-after"]
    assert gw.simulator.state.request_count() == 6
    records = audio_records(gw, 7)
    assert [r.status for r in records] == [200] * 6 + [429]
    assert records[-1].refusal == "team_rate_limit"  # the team's own ASH limit
    assert sum(r.cost_pusd for r in records) == 6 * -(-40 * 10**9 * 10_000 // 3_600_000)


def test_file_longer_than_the_hourly_audio_limit_is_413(gw: RunningGateway) -> None:
    client = openai_client(gw, gw.key("analytics"))
    with pytest.raises(openai.APIStatusError) as err:
        client.audio.transcriptions.create(
            model="whisper-large-v3-turbo", file=("long.wav", wav_bytes(61, rate=1000))
        )
    assert err.value.status_code == 413
    assert gw.simulator.state.request_count() == 0


def test_operator_maximum_prices_an_unreadable_file(simulator: Simulator, tmp_path: Path) -> None:
    patch = {**PATCH, "audio": {"max_unreadable_duration_s": 60}}
    for gw in start_gateway(simulator, tmp_path, patch):
        client = openai_client(gw, gw.key("research"))
        # The simulator cannot read it either: Groq's 400 is passed on, and nothing is charged.
        with pytest.raises(openai.BadRequestError):
            client.audio.transcriptions.create(
                model="whisper-large-v3", file=("x.webm", b"\x1a\x45\xdf\xa3 opaque")
            )
        assert gw.simulator.state.request_count() == 1  # forwarded this time
        [rec] = audio_records(gw)
        assert rec.status == 400 and rec.cost_pusd == 0 and not rec.refusal
        assert gw.app.gateway.budget.remaining_pico("research") == 500 * 10**12


def test_audio_by_url_is_priced_at_the_operator_maximum(
    simulator: Simulator, tmp_path: Path
) -> None:
    patch = {**PATCH, "audio": {"max_unreadable_duration_s": 60}}
    for gw in start_gateway(simulator, tmp_path, patch):
        reply = httpx.post(
            gw.url + "/openai/v1/audio/transcriptions",
            headers={"authorization": f"Bearer {gw.key('research')}"},
            files={"model": (None, "whisper-large-v3"), "url": (None, "https://x/a.mp3")},
        )
        assert reply.status_code == 200, reply.text
        [rec] = audio_records(gw)
        assert rec.cost_pusd == -(-111 * 10**9 * 60_000 // 3_600_000)
        assert rec.usage_source == "estimated"


def test_audio_limits_follow_the_length_groq_bills(
    gw: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """teamgate reads 50 s from the file, Groq reports 2 s (billed 10 s): the ASH counter is
    corrected to 10 s, so a second request of 50 s fits the 60 s hour; a third does not."""
    monkeypatch.setattr("teamgate.endpoints.audio.audio_duration_s", lambda _spool: 50.0)
    client = openai_client(gw, gw.key("analytics"))

    def transcribe() -> Any:
        return client.audio.transcriptions.create(
            model="whisper-large-v3-turbo",
            file=("a.wav", wav_bytes(2)),
            response_format="verbose_json",
        )

    transcribe()
    transcribe()  # without the correction: 50 + 50 > 60, refused
    with pytest.raises(openai.RateLimitError):
        transcribe()  # 10 + 10 + 50 > 60
    records = audio_records(gw, 3)
    assert [r.status for r in records] == [200, 200, 429]
    assert [r.usage_source for r in records[:2]] == ["reported", "reported"]


def test_audio_seconds_of_a_failed_request_are_given_back(
    simulator: Simulator, tmp_path: Path
) -> None:
    patch = {**PATCH, "audio": {"max_unreadable_duration_s": 60}}
    for gw in start_gateway(simulator, tmp_path, patch):
        client = openai_client(gw, gw.key("analytics"))
        for _ in range(2):  # 60 s assumed each, the whole hour: Groq fails both
            with pytest.raises(openai.BadRequestError):
                client.audio.transcriptions.create(
                    model="whisper-large-v3-turbo", file=("x.webm", b"\x1a\x45\xdf\xa3 opaque")
                )
        assert gw.simulator.state.request_count() == 2
