"""``/readyz``: should a load balancer send this instance traffic? (``/healthz``: is it alive?)

Not ready, with a short reason code, while:

- ``starting``: the config is loaded but the gateway has not finished opening;
- ``store_unreachable``: the ledger/key store does not answer a cheap query
  within ``timeout_s``;
- ``redis_unreachable``: (with ``redis.url``) Redis does not answer ``PING``;
- ``draining``: a stop signal arrived; in-flight requests are finishing.

Probes run every ``interval_s`` (0.5 s) with a ``timeout_s`` (1 s) bound, so
the answer flips within about 1.5 s of a dependency going away or coming
back. Each outage is logged once by a :class:`~teamgate.observability.fault_log.FaultLog`
(and once when it ends). Neither endpoint needs a key; they reveal only
ok/not-ok and the reason code.

>>> readiness = Readiness([])
>>> readiness.answer()
(503, b'{"status":"unavailable","reason":"starting"}')
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from teamgate.background.tasks import stop_task
from teamgate.ledger.store import Store
from teamgate.observability.fault_log import FaultLog

log = logging.getLogger("teamgate.readiness")

READY = b'{"status":"ok"}'


@dataclass(frozen=True)
class Probe:
    """One dependency: its name in logs, its reason code, and a cheap call that raises if down."""

    component: str
    reason: str
    call: Callable[[], Awaitable[object]]


class Readiness:
    """The readiness state of one gateway instance. See the module docstring."""

    def __init__(
        self,
        probes: Sequence[Probe],
        *,
        interval_s: float = 0.5,
        timeout_s: float = 1.0,
        repeat_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.probes = list(probes)
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self._faults = {
            p.reason: FaultLog(log, p.component, repeat_s=repeat_s, clock=clock) for p in probes
        }
        self.started = False
        self.draining = False
        self._task: asyncio.Task[None] | None = None
        self._pending: dict[str, asyncio.Future[object]] = {}

    @property
    def reason(self) -> str | None:
        """The reason code for not being ready, or None when ready."""
        if self.draining:
            return "draining"
        if not self.started:
            return "starting"
        for probe in self.probes:
            if self._faults[probe.reason].down:
                return probe.reason
        return None

    def answer(self) -> tuple[int, bytes]:
        """The ``/readyz`` status code and JSON body."""
        reason = self.reason
        if reason is None:
            return 200, READY
        return 503, b'{"status":"unavailable","reason":"%s"}' % reason.encode()

    async def start(self) -> None:
        """Probe once (the first answer is a real one), then keep probing in the background."""
        await self.check()
        self.started = True
        self._task = asyncio.create_task(self._loop(), name="teamgate-readiness")

    def drain(self) -> None:
        """A stop signal arrived: not ready from now on."""
        if not self.draining:
            log.info("draining: /readyz answers 503 from now on")
        self.draining = True

    async def close(self) -> None:
        self.draining = True
        await stop_task(self._task)
        self._task = None
        pending, self._pending = list(self._pending.values()), {}
        for call in pending:
            call.cancel()
        if pending:  # bounded: a call stuck on a dead host is abandoned, not awaited forever
            await asyncio.wait(pending, timeout=self.timeout_s)

    async def check(self) -> None:
        """Run every probe once (concurrently), recording up and down transitions."""
        await asyncio.gather(*(self._check(p) for p in self.probes))

    async def _check(self, probe: Probe) -> None:
        # Not wait_for: cancelling a call to a dead host can itself hang (a driver
        # cleaning up over the same dead socket). A call that outlives timeout_s
        # counts as a failure and is waited on again by the next round.
        fault = self._faults[probe.reason]
        call = self._pending.pop(probe.reason, None)
        if call is None:
            call = asyncio.ensure_future(probe.call())
        done, _ = await asyncio.wait({call}, timeout=self.timeout_s)
        if not done:
            self._pending[probe.reason] = call
            fault.failed(TimeoutError())
            return
        error = call.exception()
        if error is not None:  # any failure to answer means "take me out"
            fault.failed(error)
        else:
            fault.ok()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.check()


def gateway_probes(store: Store, redis: object | None) -> list[Probe]:
    """The store (a cheap version query) and, when configured, Redis (``PING``)."""
    probes = [Probe("store", "store_unreachable", store.ping)]
    ping = getattr(redis, "ping", None)
    if ping is not None:
        probes.append(Probe("redis", "redis_unreachable", ping))
    return probes
