"""What a component shared through Redis does when Redis cannot be reached.

One rule, and one helper, for the rate limits and the budgets
(:mod:`~teamgate.shared_redis.limits_failover`,
:mod:`~teamgate.shared_redis.budget_failover` both build on :class:`Failover`):
``redis.failure_mode`` ``closed`` (the default) answers
:class:`~teamgate.http.errors.StateUnavailable` (503, ``gateway_state_unavailable``) and
admits nothing; ``open`` lets this instance decide alone, in memory, on its 1/N share
(N = ``redis.instances``), so N instances together stay within every global figure. The
first failure and the recovery are logged once each, not per request.

>>> class Backend:
...     async def start(self) -> None: ...
...     async def close(self) -> None: ...
>>> mode = Failover(Backend(), "rate limits", logging.getLogger("demo"), "down",
...                 mode="open", instances=3)
>>> mode.share(100), mode.share(2), mode.degraded
(33, 1, False)
"""

from __future__ import annotations

import logging
from typing import Generic, Protocol, TypeVar

from teamgate.http.errors import StateUnavailable


class Backend(Protocol):
    """A Redis backend with background work (lease renewal, replay) to start and stop."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...


PrimaryT = TypeVar("PrimaryT", bound=Backend)


class Failover(Generic[PrimaryT]):
    """A Redis backend (``primary``) and its failure mode: closed or open, this
    instance's share, and whether Redis is down right now. The failover wrappers of the
    limits and the budgets are this plus what each keeps in memory."""

    def __init__(
        self,
        primary: PrimaryT,
        component: str,
        logger: logging.Logger,
        message: str,
        *,
        mode: str = "closed",
        instances: int = 1,
    ) -> None:
        self.primary = primary
        self.component = component
        self.open = mode == "open"
        self.instances = max(1, instances)
        self.degraded = False
        self._log = logger
        self._message = message

    async def start(self) -> None:
        await self.primary.start()

    async def close(self) -> None:
        await self.primary.close()

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
