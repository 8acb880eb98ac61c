"""What an aiohttp client (the gateway's upstream client) sees for each connection fault."""

from __future__ import annotations

import aiohttp
import pytest

from teamgate.simulator import Simulator

from .sample import CHAT, KEY, chat_body


async def test_stream_reads_chunk_by_chunk(url: str) -> None:
    headers = {"authorization": f"Bearer {KEY}"}
    async with (
        aiohttp.ClientSession(url, headers=headers) as session,
        session.post(CHAT, json=chat_body(stream=True)) as response,
    ):
        assert response.status == 200
        events = [line async for line in response.content if line.strip()]
    assert events[-1] == b"data: [DONE]\n"
    assert len(events) == 1 + 4 + 1 + 1  # role, 4 content, final, [DONE]


async def test_stream_break_is_a_payload_error(sim: Simulator, url: str) -> None:
    sim.push_faults(KEY, "stream_break;after=1")
    headers = {"authorization": f"Bearer {KEY}"}
    async with (
        aiohttp.ClientSession(url, headers=headers) as session,
        session.post(CHAT, json=chat_body(stream=True)) as response,
    ):
        assert response.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()


@pytest.mark.parametrize(
    ("spec", "error"),
    [("reset", aiohttp.ClientOSError), ("close", aiohttp.ServerDisconnectedError)],
)
async def test_disconnect_before_response(
    sim: Simulator, url: str, spec: str, error: type[Exception]
) -> None:
    sim.push_faults(KEY, spec)
    headers = {"authorization": f"Bearer {KEY}"}
    async with aiohttp.ClientSession(url, headers=headers) as session:
        with pytest.raises(error):
            await session.post(CHAT, json=chat_body())
        async with session.post(CHAT, json=chat_body()) as response:
            assert response.status == 200
