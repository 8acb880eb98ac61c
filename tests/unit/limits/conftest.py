"""Fixtures for the limiter tests: a virtual-time event loop (see limits_vtime)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.unit.limits.limits_vtime import VirtualTimeLoop


@pytest.fixture
def vloop() -> Iterator[VirtualTimeLoop]:
    loop = VirtualTimeLoop()
    try:
        yield loop
    finally:
        pending = asyncio.all_tasks(loop)
        for task in pending:  # left behind by a failed test: cancel, so teardown is clean
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
