"""The official groq and openai SDKs, pointed at the simulator, parse everything it sends."""

from __future__ import annotations

import groq
import openai
import pytest

from teamgate.simulator import Simulator, count_prompt_tokens

from .sample import KEY, MODEL

MESSAGES = [{"role": "user", "content": "Say hello"}]


def test_groq_non_streaming_completion(sim: Simulator, url: str) -> None:
    with groq.Groq(api_key=KEY, base_url=url, max_retries=0) as client:
        completion = client.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == MODEL
    assert completion.choices[0].message.content == " ".join(["tok"] * 16)
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == count_prompt_tokens(MESSAGES)
    assert completion.usage.completion_tokens == 16
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + 16
    assert completion.x_groq is not None and completion.x_groq.id.startswith("req_")
    assert completion.system_fingerprint is not None
    assert completion.system_fingerprint.startswith("fp_")
    assert sim.state.request_count(KEY) == 1


def test_groq_streaming_completion_has_usage_in_last_chunk(url: str) -> None:
    with groq.Groq(api_key=KEY, base_url=url, max_retries=0) as client:
        stream = client.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,
            stream=True,
            max_completion_tokens=10,  # type: ignore[arg-type]
        )
        chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].x_groq is not None and chunks[0].x_groq.id.startswith("req_")
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == " ".join(["tok"] * 10)
    last = chunks[-1]
    assert last.choices[0].finish_reason == "length"
    assert last.x_groq is not None and last.x_groq.usage is not None
    assert last.x_groq.usage.completion_tokens == 10
    assert last.x_groq.id == chunks[0].x_groq.id


def test_openai_streaming_include_usage_chunk(url: str) -> None:
    with openai.OpenAI(api_key=KEY, base_url=url + "/openai/v1", max_retries=0) as client:
        stream = client.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == count_prompt_tokens(MESSAGES)
    assert chunks[-1].usage.completion_tokens == 16
    assert chunks[-2].choices[0].finish_reason == "stop"


def test_openai_non_streaming_completion(url: str) -> None:
    with openai.OpenAI(api_key=KEY, base_url=url + "/openai/v1", max_retries=0) as client:
        completion = client.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,
            max_tokens=3,  # type: ignore[arg-type]
        )
    assert completion.choices[0].message.content == "tok tok tok"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.completion_tokens == 3


def test_models_list_and_retrieve_with_slash(url: str) -> None:
    with groq.Groq(api_key=KEY, base_url=url, max_retries=0) as client:
        listed = client.models.list()
        ids = [model.id for model in listed.data]
        assert MODEL in ids and "openai/gpt-oss-120b" in ids and "whisper-large-v3" in ids
        model = client.models.retrieve("openai/gpt-oss-120b")
        assert model.id == "openai/gpt-oss-120b"
        assert model.context_window == 131072
        with pytest.raises(groq.NotFoundError) as raised:
            client.models.retrieve("no-such-model")
    assert raised.value.body == {
        "error": {
            "message": "The model `no-such-model` does not exist or you do not have access to it.",
            "type": "invalid_request_error",
            "code": "model_not_found",
        }
    }


def test_openai_models_list(url: str) -> None:
    with openai.OpenAI(api_key=KEY, base_url=url + "/openai/v1", max_retries=0) as client:
        assert MODEL in [model.id for model in client.models.list()]


def test_unknown_key_is_authentication_error(sim: Simulator, url: str) -> None:
    with (
        groq.Groq(api_key="tg_not_a_groq_key", base_url=url, max_retries=0) as client,
        pytest.raises(groq.AuthenticationError) as raised,
    ):
        client.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
    assert raised.value.status_code == 401
    assert raised.value.body == {
        "error": {
            "message": "Invalid API Key",
            "type": "invalid_request_error",
            "code": "invalid_api_key",
        }
    }
    assert "Bearer tg_not_a_groq_key" in sim.state.authorizations()
    assert sim.state.billed("tg_not_a_groq_key") == (0, 0)


def test_unknown_model_is_not_found(url: str) -> None:
    with (
        groq.Groq(api_key=KEY, base_url=url, max_retries=0) as client,
        pytest.raises(groq.NotFoundError) as raised,
    ):
        client.chat.completions.create(model="gpt-4", messages=MESSAGES)  # type: ignore[arg-type]
    assert raised.value.status_code == 404
    assert raised.value.body["error"]["code"] == "model_not_found"  # type: ignore[index]


def test_429_is_rate_limit_error_and_sdk_retry_honours_retry_after(
    sim: Simulator, url: str
) -> None:
    sim.push_faults(KEY, "429;retry_after=0")
    with (
        groq.Groq(api_key=KEY, base_url=url, max_retries=0) as client,
        pytest.raises(groq.RateLimitError) as raised,
    ):
        client.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
    assert raised.value.response.headers["retry-after"] == "0"
    assert raised.value.body["error"]["code"] == "rate_limit_exceeded"  # type: ignore[index]
    sim.push_faults(KEY, "429;retry_after=0")
    with groq.Groq(api_key=KEY, base_url=url, max_retries=1) as client:
        completion = client.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
    assert completion.choices[0].finish_reason == "stop"
    assert sim.state.request_count(KEY) == 3
    assert sim.state.successes(KEY) == 1


def test_500_is_internal_server_error(sim: Simulator, url: str) -> None:
    sim.push_faults(None, "500")
    with (
        groq.Groq(api_key=KEY, base_url=url, max_retries=0) as client,
        pytest.raises(groq.InternalServerError),
    ):
        client.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
