"""The official SDKs, pointed at the gateway, work as they do against Groq."""

from __future__ import annotations

import groq
import pytest

from tests.conftest import UPSTREAM_SECRETS, RunningGateway
from tests.support.sdk_clients import (
    close_sdk_clients,
    error_of,
    groq_client,
    http_client,
    openai_client,
)

__all__ = ["close_sdk_clients"]  # autouse: closes the SDK clients after each test

MSG = [{"role": "user", "content": "Hello there"}]


def test_groq_sdk_chat_completion_uses_team_upstream_key(gateway: RunningGateway) -> None:
    client = groq_client(gateway, gateway.key("chatbot", "prod"))
    reply = client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG)
    assert reply.choices[0].message.content
    assert reply.usage is not None and reply.usage.completion_tokens > 0
    seen = gateway.simulator.state.authorizations()
    assert seen == {f"Bearer {UPSTREAM_SECRETS['GROQ_KEY_CHATBOT_PROD']}"}
    assert not any("tg_" in value for value in seen)


def test_groq_sdk_streaming(gateway: RunningGateway) -> None:
    client = groq_client(gateway, gateway.key("analytics"))
    stream = client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG, stream=True)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert chunks[-1].x_groq is not None and chunks[-1].x_groq.usage is not None
    assert gateway.simulator.state.authorizations() == {
        f"Bearer {UPSTREAM_SECRETS['GROQ_KEY_ANALYTICS_PROD']}"
    }


@pytest.mark.parametrize("prefix", ["/openai/v1", "/v1"])
def test_openai_sdk_on_both_prefixes(gateway: RunningGateway, prefix: str) -> None:
    client = openai_client(gateway, gateway.key("research"), prefix)
    reply = client.chat.completions.create(
        model="meta-llama/llama-4-scout-17b-16e-instruct", messages=MSG
    )
    assert reply.choices[0].finish_reason in ("stop", "length")
    stream = client.chat.completions.create(
        model="llama-3.1-8b-instant",
        messages=MSG,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_models_list_only_allowed(gateway: RunningGateway) -> None:
    client = groq_client(gateway, gateway.key("analytics"))
    ids = [m.id for m in client.models.list().data]
    assert ids == ["llama-3.1-8b-instant", "fast"]
    assert client.models.retrieve("llama-3.1-8b-instant").id == "llama-3.1-8b-instant"
    with pytest.raises(groq.NotFoundError) as err:
        client.models.retrieve("llama-3.3-70b-versatile")
    assert error_of(err.value)["code"] == "model_not_found"


def test_model_outside_allowlist_is_403(gateway: RunningGateway) -> None:
    client = groq_client(gateway, gateway.key("analytics"))
    with pytest.raises(groq.PermissionDeniedError) as err:
        client.chat.completions.create(model="llama-3.3-70b-versatile", messages=MSG)
    body = error_of(err.value)
    assert body["code"] == "model_not_allowed"
    message = body["message"]
    assert "analytics" in message and "llama-3.3-70b-versatile" in message
    assert "llama-3.1-8b-instant" in message
    assert gateway.simulator.state.request_count() == 0


def test_alias_resolves_before_the_check(gateway: RunningGateway) -> None:
    client = groq_client(gateway, gateway.key("analytics"))
    reply = client.chat.completions.create(model="fast", messages=MSG)
    assert reply.model == "llama-3.1-8b-instant"
    assert gateway.simulator.state.requests()[-1].body["model"] == "llama-3.1-8b-instant"


def test_token_cap(gateway: RunningGateway) -> None:
    client = groq_client(gateway, gateway.key("analytics"))
    for field in ("max_completion_tokens", "max_tokens"):
        with pytest.raises(groq.BadRequestError) as err:
            client.chat.completions.create(
                model="llama-3.1-8b-instant", messages=MSG, **{field: 513}
            )
        assert "512" in error_of(err.value)["message"]
    client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG)
    sent = gateway.simulator.state.requests()[-1].body
    assert sent["max_completion_tokens"] == 512
    with pytest.raises(groq.BadRequestError):
        client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG, n=2)


def test_bad_keys_are_401(gateway: RunningGateway) -> None:
    for key in ("tg_" + "x" * 40, "gsk_not_ours", ""):
        client = groq.Groq(
            api_key=key or "none", base_url=gateway.url, max_retries=0, http_client=http_client()
        )
        with pytest.raises(groq.AuthenticationError) as err:
            client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG)
        assert error_of(err.value) == {
            "message": "Invalid API Key",
            "type": "invalid_request_error",
            "code": "invalid_api_key",
        }
