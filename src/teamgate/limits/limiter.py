"""The rate limiter: admit a request against team, model and org limits, or queue, or 429.

One :class:`Limiter` per gateway process, built from the settings and a
:class:`~teamgate.limits.counters.Counters` backend. :meth:`Limiter.admit`
checks, in ONE atomic ``acquire``: the team's RPM, RPD, TPM, TPD, the team's
per-model limits, the org's limits and the org's per-model limits; and it
holds the team's (and per-model, and org) concurrency slots. A refused request
raises :class:`~teamgate.http.errors.RateLimited` at once (``on_limit: reject``) or
waits its turn (``on_limit: queue``): FIFO within the team, at most
``limits.max_queue_wait_s``, and with ``org.fair_share`` teams blocked by org
limits take org capacity in turn.

>>> import asyncio
>>> from teamgate.config.schema import Limits, Settings, TeamConfig
>>> from teamgate.limits.memory import MemoryCounters
>>> team = TeamConfig("chatbot", ("m",), 4096, limits=Limits(rpm=60, tpm=10000))
>>> limiter = Limiter(Settings(teams={"chatbot": team}), MemoryCounters(), clock=lambda: 0.0)
>>> async def demo():
...     ticket = await limiter.admit("chatbot", "m", tokens=2000)
...     await ticket.correct(500)
...     await ticket.release()
...     return ticket.headers()["x-ratelimit-remaining-tokens"]
>>> asyncio.run(demo())
'9500'
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping, Sequence

from teamgate.config.schema import Settings
from teamgate.limits.counters import Counters, RateCheck, SlotHandle
from teamgate.limits.fast_admit import FastPlan
from teamgate.limits.feedback import upstream_hold_s
from teamgate.limits.gcra import EPSILON_S, gcra_peek
from teamgate.limits.headers import format_reset
from teamgate.limits.plan import (
    PERIOD_S,
    AdmissionPlan,
    Metric,
    PlanCache,
    PlannedSlot,
    build_plan,
    team_key,
)
from teamgate.limits.queue import FairRing, TeamQueue
from teamgate.limits.refusal import (
    Refusal,
    pause_refusal,
    queue_timeout_refusal,
    rate_refusal,
    slot_refusal,
    too_large_error,
)
from teamgate.limits.ticket import Ticket

# A header kind's counter key, limit, period, limit as text, and its three header names.
_HeaderSpec = tuple[str, int, float, str, tuple[str, str, str]]


class ClientGone(Exception):
    """The client disconnected while its request waited in the queue; nothing to answer."""


class Limiter:
    """Admits requests against the configured limits. See the module docstring.

    ``clock`` gives wall-clock seconds (``time.time``); waits use the event
    loop's timers, so in tests run the loop on virtual time and pass
    ``clock=loop.time``. ``slot_recheck_s``: with a shared backend (Redis),
    slots released by other instances wake nobody here, so a head blocked on a
    slot rechecks at this interval; None (the memory backend) waits for a local
    release.
    """

    def __init__(
        self,
        settings: Settings,
        counters: Counters,
        *,
        clock: Callable[[], float] = time.time,
        client_check_s: float = 1.0,
        slot_recheck_s: float | None = None,
    ) -> None:
        self._settings = settings
        self._counters = counters
        self._clock = clock
        self._client_check_s = client_check_s
        self._slot_recheck_s = slot_recheck_s
        self._queues: dict[str, TeamQueue] = {}
        self._ring = FairRing()
        self._tats: dict[str, float] = {}
        self._paused_until: dict[str, float] = {}
        self._background: set[asyncio.Future[None]] = set()
        self._plans = PlanCache()
        self._header_settings: Settings | None = None
        self._fast_settings: Settings | None = None
        self._fast_plans: dict[tuple[str, str], FastPlan] = {}
        self._header_specs: dict[str, tuple[_HeaderSpec, ...]] = {}

    # ---- public API -------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def counters(self) -> Counters:
        return self._counters

    def reconfigure(self, settings: Settings) -> None:
        """Swap the limits at runtime; counter state and queued requests are kept.

        A key's state is its TAT, so a changed limit reinterprets the same
        *fraction* of the period as used (a team that was full stays full).
        """
        self._settings = settings
        self._notify_all()

    async def admit(
        self,
        team: str,
        model: str,
        tokens: int,
        *,
        client_gone: Callable[[], bool] | None = None,
        audio_seconds: int = 0,
    ) -> Ticket:
        """Admit one request of ``team`` for ``model`` reserving ``tokens``, or raise.

        ``tokens`` is the prompt bound plus the max completion tokens. Raises
        :class:`RateLimited` (429), :class:`PayloadTooLarge` (413, code
        ``rate_limit_exceeded``) when ``tokens`` exceeds a TPM/TPD limit outright,
        or :class:`ClientGone` when ``client_gone()`` turned true while queued.
        Cancelling the awaiting task removes it from the queue. ``audio_seconds``
        is checked against the ASH/ASD limits (audio endpoints).
        """
        if tokens > 0 and not audio_seconds:
            ticket = self._admit_fast(team, model, tokens)
            if ticket is not None:
                return ticket
        plan = (
            self._plans.plan(self._settings, team, model, tokens)
            if not audio_seconds
            else build_plan(self._settings, team, model, tokens, audio_seconds)
        )
        _raise_if_too_large(plan)
        if plan.is_empty and model not in self._paused_until:
            return self._ticket(plan, ())
        team_cfg = self._settings.teams.get(team)
        if team_cfg is not None and team_cfg.on_limit == "reject":
            outcome = await self._attempt(plan)
            if isinstance(outcome, Ticket):
                return outcome
            raise outcome.error(self.headers(team))
        max_wait = team_cfg.limits.max_queue_wait_s if team_cfg is not None else 30.0
        return await self._admit_queued(team, model, tokens, max_wait, client_gone, audio_seconds)

    async def correct_audio(self, team: str, model: str, reserved_s: int, actual_s: int) -> None:
        """Correct the ASH/ASD counters once the billed audio length is known.

        An audio request is admitted with the length read from its file; Groq bills
        the length it reports (``verbose_json``), and a request Groq fails bills
        nothing (``actual_s`` 0). Fewer seconds are given back, as
        :meth:`Ticket.correct` gives back tokens; more are charged too, but only
        if they fit under every ASH/ASD limit (a correction never refuses an
        answered request, so an excess that does not fit is not counted).
        """
        diff = actual_s - reserved_s
        if diff == 0:
            return
        plan = build_plan(self._settings, team, model, 0, abs(diff))
        checks = [p.check for p in plan.checks if p.metric in ("ash", "asd")]
        if not checks:
            return
        if diff < 0:
            await self._refund(checks, -diff)
            return
        decision = await self._counters.acquire(checks, self._clock())
        for check, tat in zip(checks, decision.tats, strict=True):
            self._tats[check.key] = tat

    # ---- one step shared with another component ------------------------------------------

    def direct_plan(self, team: str, model: str, tokens: int) -> AdmissionPlan | None:
        """The plan of an admission that may be tried at once, in a step the caller runs
        itself (e.g. one Redis script that also reserves the budget); None when
        :meth:`admit` must decide (a paused model, a too-large request, a queue or fair-share
        ring with someone ahead), which it does exactly as without this step.

        If every slot and check of the plan passes in the caller's step, it calls
        :meth:`admitted`; if any refuses, nothing may be taken and it calls :meth:`admit`.
        """
        team_cfg = self._settings.teams.get(team)
        if team_cfg is None or model in self._paused_until:
            return None
        plan = self._plans.plan(self._settings, team, model, tokens)
        if plan.too_large is not None:
            return None
        if team_cfg.on_limit != "reject":
            if team in self._queues:  # someone of the team is queued: FIFO
                return None
            if self._settings.org.fair_share and plan.has_org_checks and len(self._ring):
                return None
        return plan

    def admitted(
        self, plan: AdmissionPlan, tats: Sequence[float], slots: Sequence[SlotHandle]
    ) -> Ticket:
        """The ticket of a :meth:`direct_plan` whose slots and checks the caller took in its
        own step (``tats``: the checks' new TATs, in order; ``slots``: the handles of the
        plan's slots, in order)."""
        for check, tat in zip(plan.checks, tats, strict=True):
            self._tats[check.check.key] = tat
        return self._ticket(plan, tuple(slots))

    def headers(self, team: str) -> dict[str, str]:
        """The team's own ``x-ratelimit-*`` headers, with Groq's semantics and formats.

        As Groq's: ``limit-requests`` is the requests-per-day limit (RPD); a team
        with no RPD gets its RPM there instead. ``limit-tokens`` is TPM, else TPD.
        ``remaining`` is what is left now, ``reset`` the time until full. A team
        without either limit gets no such headers. No I/O: computed from the
        memory backend directly, or from the last state this process saw.
        """
        if self._header_settings is not self._settings:
            self._header_settings, self._header_specs = self._settings, {}
        specs = self._header_specs.get(team)
        if specs is None:
            specs = self._header_specs[team] = self._header_spec(team)
        now = self._clock()
        out: dict[str, str] = {}
        peek_now = self._counters.peek_now
        for key, limit, period, limit_text, (limit_name, remaining_name, reset_name) in specs:
            peeked = peek_now(key, limit, period, now)
            if peeked is None:  # no synchronous answer: the last state this process saw
                peeked = gcra_peek(self._tats.get(key, now), now, limit, period)
            remaining, reset = peeked
            out[limit_name] = limit_text
            out[remaining_name] = str(remaining)
            out[reset_name] = format_reset(reset if not math.isinf(reset) else 0.0)
        return out

    def _header_spec(self, team: str) -> tuple[_HeaderSpec, ...]:
        """What :meth:`headers` reads for ``team``: per kind, the counter and the names."""
        team_cfg = self._settings.teams.get(team)
        if team_cfg is None:
            return ()
        limits = team_cfg.limits
        specs: list[_HeaderSpec] = []
        kinds: tuple[tuple[str, tuple[Metric, int | None], tuple[Metric, int | None]], ...] = (
            ("requests", ("rpd", limits.rpd), ("rpm", limits.rpm)),
            ("tokens", ("tpm", limits.tpm), ("tpd", limits.tpd)),
        )
        for kind, first, second in kinds:
            metric, limit = first if first[1] is not None else second
            if limit is None:
                continue
            names = (
                f"x-ratelimit-limit-{kind}",
                f"x-ratelimit-remaining-{kind}",
                f"x-ratelimit-reset-{kind}",
            )
            specs.append((team_key(team, metric), limit, PERIOD_S[metric], str(limit), names))
        return tuple(specs)

    def observe_upstream(self, model: str, headers: Mapping[str, str]) -> None:
        """Read Groq's ``x-ratelimit-*`` headers; hold new admissions of ``model`` if exhausted."""
        hold = upstream_hold_s(headers)
        if hold <= 0:
            return
        until = self._clock() + hold
        if until > self._paused_until.get(model, 0.0):
            self._paused_until[model] = until

    def queued(self, team: str) -> int:
        """How many requests of ``team`` wait in its queue now (for metrics and tests)."""
        queue = self._queues.get(team)
        return len(queue) if queue is not None else 0

    # ---- one attempt ------------------------------------------------------------------

    async def _attempt(self, plan: AdmissionPlan) -> Ticket | Refusal:
        """One try. With a backend that suspends (a round trip), a cancellation must not
        lose what an in-flight call took: the try runs shielded, and if its waiter is
        cancelled, whatever it got is given back when it completes."""
        if not self._counters.suspends:
            return await self._attempt_once(plan)
        task = asyncio.ensure_future(self._attempt_once(plan))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(self._undo_abandoned)
            raise

    def _undo_abandoned(self, task: asyncio.Future[Ticket | Refusal]) -> None:
        if task.cancelled() or task.exception() is not None:
            return
        ticket = task.result()
        if isinstance(ticket, Ticket):
            undo = asyncio.ensure_future(self._discard(ticket))
            self._background.add(undo)
            undo.add_done_callback(self._background.discard)

    @staticmethod
    async def _discard(ticket: Ticket) -> None:
        await ticket.correct(0)
        await ticket.release()

    async def _attempt_once(self, plan: AdmissionPlan) -> Ticket | Refusal:
        now = self._clock()
        paused = self._paused_until.get(plan.model)
        if paused is not None:
            if paused > now:
                return pause_refusal(plan, paused - now, now)
            self._paused_until.pop(plan.model, None)
        taken: list[SlotHandle] = []
        try:
            for slot in plan.slots:
                held = await self._counters.try_take_slot(slot.key, slot.limit)
                if held is None:
                    given, taken = taken, []
                    await self._give_back(given)
                    return slot_refusal(plan, slot, now)
                taken.append(held)
            checks = plan.rate_checks
            if checks:
                decision = await self._counters.acquire(checks, now)
                for check, tat in zip(checks, decision.tats, strict=True):
                    self._tats[check.key] = tat
                if not decision.allowed:
                    given, taken = taken, []
                    await self._give_back(given)
                    return rate_refusal(
                        plan,
                        decision.blocking,
                        decision.blocked_remaining,
                        decision.retry_after,
                        now,
                    )
        except BaseException:
            # cancelled (or the backend failed) midway: never leak a slot
            await asyncio.shield(self._give_back(taken))
            raise
        return self._ticket(plan, tuple(taken))

    def _admit_fast(self, team: str, model: str, tokens: int) -> Ticket | None:
        """A ticket when a rejecting team's request passes everything at once and the
        backend can say so synchronously (see :mod:`teamgate.limits.fast_admit`); None,
        having taken nothing, otherwise."""
        team_cfg = self._settings.teams.get(team)
        if team_cfg is None or team_cfg.on_limit != "reject" or model in self._paused_until:
            return None
        fast = self._fast_plan(team, model)
        held: list[SlotHandle] = []
        tats = self._counters.try_admit_now(fast, tokens, self._clock(), held)
        if tats is None:
            return None
        for spec, tat in zip(fast.specs, tats, strict=True):
            self._tats[spec[0]] = tat
        return self._new_ticket(team, model, tokens, fast.token_checks, fast.slots, tuple(held))

    def _fast_plan(self, team: str, model: str) -> FastPlan:
        """The (team, model)'s :class:`FastPlan`, built once per settings object."""
        if self._fast_settings is not self._settings:
            self._fast_settings, self._fast_plans = self._settings, {}
        fast = self._fast_plans.get((team, model))
        if fast is None:
            if len(self._fast_plans) >= PlanCache.MAX_ENTRIES:
                self._fast_plans.clear()
            template = self._plans.plan(self._settings, team, model, 1)
            fast = self._fast_plans[(team, model)] = FastPlan.of(template)
        return fast

    async def _give_back(self, slots: Sequence[SlotHandle]) -> None:
        counters = self._counters
        for slot in slots:
            if not counters.release_slot_now(slot):
                await counters.release_slot(slot)

    def _ticket(self, plan: AdmissionPlan, held: tuple[SlotHandle, ...]) -> Ticket:
        """The ticket of ``plan``, holding the slots ``held`` (those of ``plan.slots``)."""
        token_checks = [p.check for p in plan.checks if p.is_tokens]
        return self._new_ticket(plan.team, plan.model, plan.tokens, token_checks, plan.slots, held)

    def _new_ticket(
        self,
        team: str,
        model: str,
        tokens: int,
        token_checks: Sequence[RateCheck],
        slots: tuple[PlannedSlot, ...],
        held: tuple[SlotHandle, ...],
    ) -> Ticket:
        """A ticket holding ``held``, the handles of ``slots`` (released through them;
        ``slots`` say whom a release wakes)."""

        async def release() -> None:
            await self._give_back(held)
            if slots and self._queues:
                self._notify(team, any(s.scope in ("org", "org_model") for s in slots))

        def closed(checks: Sequence[RateCheck], tats: Sequence[float]) -> None:
            for check, tat in zip(checks, tats, strict=False):
                self._tats[check.key] = tat
            if self._queues and (checks or slots):
                org_wide = any(c.key.startswith("org:") for c in checks)
                self._notify(team, org_wide or any(s.scope in ("org", "org_model") for s in slots))

        return Ticket(
            team=team,
            model=model,
            reserved_tokens=tokens,
            token_checks=token_checks,
            refund=self._refund,
            release=release,
            headers=lambda: self.headers(team),
            slots=held,
            closed=closed,
        )

    async def _refund(self, checks: Sequence[RateCheck], amount: int) -> None:
        now = self._clock()
        counters = self._counters
        for check in checks:
            tat = counters.refund_now(check.key, check.limit, check.period, amount, now)
            if tat is None:
                tat = await counters.refund(check.key, check.limit, check.period, amount, now)
            self._tats[check.key] = tat
        if not self._queues:
            return  # nobody has ever queued: nobody to wake
        teams = {c.key.split(":", 2)[1] for c in checks if c.key.startswith("team:")}
        if any(c.key.startswith("org:") for c in checks):
            self._notify_all()
        else:
            for team in teams:
                self._notify(team, False)

    # ---- queueing ---------------------------------------------------------------------

    async def _admit_queued(
        self,
        team: str,
        model: str,
        tokens: int,
        max_wait: float,
        client_gone: Callable[[], bool] | None,
        audio_seconds: int = 0,
    ) -> Ticket:
        queue = self._queues.setdefault(team, TeamQueue())
        waiter = queue.join()
        deadline = self._clock() + max_wait
        ring = self._ring
        in_ring = False  # only the team's head joins the ring; this waiter's own membership
        last: Refusal | None = None
        try:
            while True:
                if not waiter.turn.is_set():
                    await self._wait(waiter.turn, deadline, client_gone)
                    if not waiter.turn.is_set():
                        behind = queue.last_refusal or queue_timeout_refusal(team, self._clock())
                        raise behind.aged(self._clock()).error(self.headers(team))
                plan = (
                    self._plans.plan(self._settings, team, model, tokens)
                    if not audio_seconds
                    else build_plan(self._settings, team, model, tokens, audio_seconds)
                )
                _raise_if_too_large(plan)
                fair = self._settings.org.fair_share and plan.has_org_checks
                final = self._clock() >= deadline - EPSILON_S
                if fair and len(ring) and not ring.is_front(team) and not final:
                    ring.join(team)
                    in_ring = True
                    await self._wait(ring.turn(team), deadline, client_gone)
                    continue
                changed = queue.changed
                outcome = await self._attempt(plan)
                if isinstance(outcome, Ticket):
                    return outcome
                last = queue.last_refusal = outcome
                if final:
                    raise (last or queue_timeout_refusal(team)).error(self.headers(team))
                if fair and outcome.org_blocked and not outcome.team_blocked:
                    ring.join(team)
                    in_ring = True
                    if not ring.is_front(team):
                        continue
                elif in_ring:
                    ring.leave(team)
                    in_ring = False
                until = deadline
                if outcome.retry_after is not None:
                    until = min(deadline, self._clock() + outcome.retry_after)
                elif self._slot_recheck_s is not None:
                    until = min(deadline, self._clock() + self._slot_recheck_s)
                await self._wait(changed, until, client_gone)
        finally:
            queue.leave(waiter)
            if in_ring:
                ring.leave(team)
            if not len(queue) and self._queues.get(team) is queue:
                del self._queues[team]

    async def _wait(
        self, event: asyncio.Event, until: float, client_gone: Callable[[], bool] | None
    ) -> None:
        """Until ``event`` is set or the clock reaches ``until``; raise ClientGone if gone.

        Asking ``client_gone()`` before the first wait starts the watch, so a client
        that leaves while queued (for a window or a concurrency slot) is noticed
        however soon it is woken."""
        if client_gone is not None and not event.is_set() and client_gone():
            raise ClientGone
        while not event.is_set():
            left = until - self._clock()
            if left <= 0:
                return
            step = left if client_gone is None else min(left, self._client_check_s)
            try:
                async with asyncio.timeout(step):
                    await event.wait()
            except TimeoutError:
                pass
            if client_gone is not None and client_gone():
                raise ClientGone

    def _notify(self, team: str, org_wide: bool) -> None:
        if org_wide:
            self._notify_all()
            return
        queue = self._queues.get(team)
        if queue is not None:
            queue.notify()

    def _notify_all(self) -> None:
        for queue in self._queues.values():
            queue.notify()

    # ---- headers --------------------------------------------------------------------


def _raise_if_too_large(plan: AdmissionPlan) -> None:
    error = too_large_error(plan)
    if error is not None:
        raise error
