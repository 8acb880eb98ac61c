"""Fixtures for the limiter tests: a virtual-time event loop (see limits_vtime)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from limits_vtime import VirtualTimeLoop


@pytest.fixture
def vloop() -> Iterator[VirtualTimeLoop]:
    loop = VirtualTimeLoop()
    try:
        yield loop
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
