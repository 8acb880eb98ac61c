"""A progress bar for long exports, on stderr, only when stderr is a terminal.

>>> import io
>>> bar = ProgressBar(100, stream=io.StringIO())  # not a TTY: draws nothing
>>> bar.advance(50); bar.done()
>>> bar.enabled
False
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class ProgressBar:
    """``[#########.........]  45%  450,000/1,000,000`` redrawn at most 10 times a second."""

    def __init__(
        self,
        total: int,
        *,
        stream: TextIO | None = None,
        width: int = 30,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = max(total, 0)
        self.count = 0
        self._stream = stream if stream is not None else sys.stderr
        self._width = width
        self._clock = clock
        self._last_draw = -1.0
        isatty = getattr(self._stream, "isatty", None)
        self.enabled = bool(isatty and isatty())

    def advance(self, n: int) -> None:
        self.count += n
        if self.enabled and self._clock() - self._last_draw >= 0.1:
            self._draw()

    def _draw(self) -> None:
        self._last_draw = self._clock()
        fraction = min(1.0, self.count / self.total) if self.total else 1.0
        filled = int(fraction * self._width)
        bar = "#" * filled + "." * (self._width - filled)
        self._stream.write(f"\r[{bar}] {fraction:4.0%}  {self.count:,}/{self.total:,}")
        self._stream.flush()

    def done(self) -> None:
        if self.enabled:
            self._draw()
            self._stream.write("\n")
            self._stream.flush()
