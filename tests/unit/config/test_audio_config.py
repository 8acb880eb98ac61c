"""Config for the endpoints beyond chat: ``audio`` section and ``ash``/``asd`` limits."""

from __future__ import annotations

from typing import Any

import pytest

from teamgate.config.errors import ConfigError
from teamgate.config.loader import parse_settings


def with_(config: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {**config, **top}


def test_defaults(config: dict[str, Any]) -> None:
    settings = parse_settings(config)
    assert settings.audio.max_unreadable_duration_s is None
    assert settings.audio.max_file_bytes == 100 * 1024 * 1024


def test_audio_section_and_audio_limits_are_read(config: dict[str, Any]) -> None:
    team = next(iter(config["teams"]))
    config["teams"][team]["limits"] = {"ash": 7200, "asd": 28800}
    settings = parse_settings(
        with_(config, audio={"max_unreadable_duration_s": 600, "max_file_bytes": 1000})
    )
    assert settings.audio.max_unreadable_duration_s == 600.0
    assert settings.audio.max_file_bytes == 1000
    limits = settings.teams[team].limits
    assert (limits.ash, limits.asd) == (7200, 28800) and not limits.is_empty


@pytest.mark.parametrize(
    ("audio", "expected"),
    [
        ({"max_unreadable_duration_s": 0}, "audio.max_unreadable_duration_s: must be a positive"),
        ({"max_unreadable_duration_s": "x"}, "audio.max_unreadable_duration_s: must be a positive"),
        ({"max_file_bytes": -1}, "audio.max_file_bytes: must be a positive integer"),
        ({"max_unreadble_duration_s": 1}, "did you mean max_unreadable_duration_s"),
    ],
)
def test_audio_problems_name_their_path(
    config: dict[str, Any], audio: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(with_(config, audio=audio))
    assert expected in str(caught.value)


def test_bad_audio_limit(config: dict[str, Any]) -> None:
    team = next(iter(config["teams"]))
    config["teams"][team]["limits"] = {"ash": 0}
    with pytest.raises(ConfigError) as caught:
        parse_settings(config)
    assert f"teams.{team}.limits.ash: must be a positive integer, got 0" in str(caught.value)


def test_whisper_models_may_be_allowed_without_token_prices(config: dict[str, Any]) -> None:
    team = next(iter(config["teams"]))
    config["teams"][team]["allowed_models"] = ["whisper-large-v3", "whisper-large-v3-turbo"]
    settings = parse_settings(config)
    assert settings.teams[team].allowed_models == ("whisper-large-v3", "whisper-large-v3-turbo")


def test_batches_poll_interval(config: dict[str, Any]) -> None:
    assert parse_settings(config).batches.poll_interval_s == 60.0
    settings = parse_settings(with_(config, batches={"poll_interval_s": 0.5}))
    assert settings.batches.poll_interval_s == 0.5
    for bad in (0, -1, "x"):
        with pytest.raises(ConfigError) as caught:
            parse_settings(with_(config, batches={"poll_interval_s": bad}))
        assert "batches.poll_interval_s: must be a positive" in str(caught.value)
