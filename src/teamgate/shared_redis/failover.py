"""What a component shared through Redis does when Redis cannot be reached.

One rule for the rate limits and the budgets (:mod:`~teamgate.shared_redis.limits_failover`,
:mod:`~teamgate.shared_redis.budget_failover`): ``redis.failure_mode`` ``closed`` (the
default) answers :class:`~teamgate.http.errors.StateUnavailable` (503,
``gateway_state_unavailable``) and admits nothing; ``open`` lets this instance decide
alone, in memory, on its 1/N share (N = ``redis.instances``), so N instances together
stay within every global figure. The first failure and the recovery are logged once each,
not per request.

>>> mode = FailureMode("rate limits", logger=logging.getLogger("demo"), open_mode=True,
...                    instances=3, message="down")
>>> mode.share(100), mode.share(2)
(33, 1)
"""

from __future__ import annotations

import logging

from teamgate.http.errors import StateUnavailable


class FailureMode:
    """Closed or open, this instance's share, and whether Redis is down right now."""

    def __init__(
        self,
        component: str,
        *,
        logger: logging.Logger,
        open_mode: bool,
        instances: int,
        message: str,
    ) -> None:
        self.component = component
        self.open = open_mode
        self.instances = max(1, instances)
        self.degraded = False
        self._log = logger
        self._message = message

    def down(self, exc: BaseException) -> None:
        """Redis failed this call: log it once, then raise 503 when failing closed."""
        if not self.degraded:
            self._log.error(
                "Redis unavailable for %s (%s); failing %s",
                self.component,
                exc,
                "open" if self.open else "closed",
            )
        self.degraded = True
        if not self.open:
            raise StateUnavailable(self._message) from None

    def up(self) -> bool:
        """Redis answered: True (and one log line) when that ends an outage."""
        if not self.degraded:
            return False
        self._log.warning("Redis reachable again; %s are shared again", self.component)
        self.degraded = False
        return True

    def share(self, limit: int) -> int:
        """This instance's share of a global limit: ``limit // N``, at least 1."""
        return max(1, limit // self.instances)
