"""A client that leaves while queued for a concurrency slot is not forwarded nor billed.

The slot frees soon after the client left (before any periodic check): the
watch started when the request began to wait, so the gateway knows at once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from teamgate.simulator import Simulator
from tests.support.asgi_gateway import LIMITS, TEAM, Request, chat, running
from tests.support.asgi_gateway import responses as responses_request

PATCH = {
    "upstream": {"timeout_s": 5},
    "teams": {TEAM: {"on_limit": "queue", "limits": {**LIMITS, "concurrency": 1}}},
}


@pytest.mark.parametrize(
    "request_of", [lambda: chat(False), lambda: responses_request(False)], ids=["chat", "responses"]
)
async def test_left_while_waiting_for_a_slot(
    request_of: object, simulator: Simulator, tmp_path: Path
) -> None:
    async with running(simulator.url, tmp_path, PATCH) as h:  # type: ignore[attr-defined]
        holder = asyncio.create_task(h.call(chat(False), fault="hold;s=10"))
        assert await asyncio.to_thread(simulator.wait_held, 1)
        request: Request = request_of()  # type: ignore[operator]
        waiting = asyncio.create_task(h.call(request, leave_after_s=0.2))
        await asyncio.sleep(0.4)  # the client has left; now the slot frees
        simulator.release_held()
        assert (await holder).status == 200
        await waiting
        records = await h.records()
        assert sorted((r.status, r.refusal) for r in records) == [(200, ""), (499, "")]
        assert [r.path for r in simulator.state.requests()] == ["/openai/v1/chat/completions"]
        assert sum(r.cost_pusd for r in records if r.status == 499) == 0
