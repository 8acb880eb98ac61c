"""Expected faults log one line, not a traceback per attempt.

A component that is polled (the store, Redis) and fails again and again gets
one warning naming the error class when the outage starts, a reminder at most
every ``repeat_s`` while it lasts, and one line when it is over:

>>> import logging
>>> now = [0.0]
>>> fault = FaultLog(logging.getLogger("doc"), "store", repeat_s=30, clock=lambda: now[0])
>>> fault.failed(ConnectionRefusedError("refused"))  # logs: store unreachable (...)
True
>>> now[0] = 5.0; fault.failed(ConnectionRefusedError())  # within repeat_s: silent
False
>>> now[0] = 12.5; fault.ok()  # logs: store recovered after 12.5 s
True

Messages carry the exception's class, never its text (a driver's message can
hold a connection string).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class FaultLog:
    """The outage state of one component, and the lines it logs."""

    def __init__(
        self,
        log: logging.Logger,
        component: str,
        *,
        repeat_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = log
        self.component = component
        self.repeat_s = repeat_s
        self._clock = clock
        self.down_since: float | None = None
        self._last_logged = 0.0

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, error: BaseException) -> bool:
        """Record a failed attempt; whether a line was logged."""
        now = self._clock()
        kind = type(error).__name__
        if self.down_since is None:
            self.down_since = self._last_logged = now
            self.log.warning(
                "%s unreachable (%s); will log again at most every %g s",
                self.component,
                kind,
                self.repeat_s,
                extra={"component": self.component, "error_class": kind},
            )
            return True
        if now - self._last_logged >= self.repeat_s:
            self._last_logged = now
            self.log.warning(
                "%s still unreachable after %.1f s (%s)",
                self.component,
                now - self.down_since,
                kind,
                extra={"component": self.component, "error_class": kind},
            )
            return True
        return False

    def ok(self) -> bool:
        """Record a successful attempt; whether a "recovered" line was logged."""
        if self.down_since is None:
            return False
        lasted = self._clock() - self.down_since
        self.down_since = None
        self.log.warning(
            "%s recovered after %.1f s",
            self.component,
            lasted,
            extra={"component": self.component, "outage_s": round(lasted, 3)},
        )
        return True
