"""A running gateway as a context manager, a coroutine run on its own event loop, and the
chat message the load drivers send."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any

from teamgate.simulator import Simulator
from tests.conftest import RunningGateway, start_gateway

MSG = [{"role": "user", "content": "Hello there"}]


@contextlib.contextmanager
def running_gateway(
    simulator: Simulator,
    tmp_path: Path,
    patch: dict[str, Any],
    env: dict[str, str] | None = None,
) -> Iterator[RunningGateway]:
    gen = start_gateway(simulator, tmp_path, patch, env)
    gw = next(gen)
    try:
        yield gw
    finally:
        gen.close()


def run_in_gateway_loop(gw: RunningGateway, coro: Awaitable[Any]) -> Any:
    """Run a coroutine on the gateway's own event loop (as SIGHUP or `reload` would)."""
    task = gw.app.gateway.upstream_sync._task
    assert task is not None
    return asyncio.run_coroutine_threadsafe(coro, task.get_loop()).result(10)  # type: ignore[arg-type]
