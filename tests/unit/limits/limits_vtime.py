"""A virtual-time event loop for the limiter tests.

The loop's clock is a number that jumps forward whenever every task is asleep,
so a test of a 60 s rate limit runs in milliseconds and is deterministic. The
limiter is given ``clock=loop.time``. A loop that would block with no timer
pending is a deadlock and raises at once instead of hanging.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Mapping
from typing import Any

START = 1_700_000_000.0  # wall-clock-sized, so float rounding is as in production


class _VirtualSelector(selectors.BaseSelector):
    def __init__(self) -> None:
        self._real = selectors.DefaultSelector()
        self.loop: VirtualTimeLoop | None = None

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            raise RuntimeError("virtual-time loop would block forever: deadlock")
        assert self.loop is not None
        self.loop.advance(timeout)
        return []

    def close(self) -> None:
        self._real.close()

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._real.get_map()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        selector = _VirtualSelector()
        super().__init__(selector)
        selector.loop = self
        self._now = START
        # asyncio runs timers due before now + resolution; at 1.7e9 one ulp is 2.4e-7 s,
        # so the monotonic clock's 1e-9 would leave a timer due exactly "now" unrun forever.
        self._clock_resolution = 1e-6

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds
