"""``MeteredRequest``: one metered request, from its key to its one ledger record.

Every metered endpoint is an adapter around one of these::

    async with MeteredRequest(gw, scope, receive, send, key, "responses") as mr:
        body = parse(...)                        # 4xx -> INVALID
        mr.attribute_body(body)                  # the body's `user`, if it has one
        mr.describe(requested, model, stream)
        await mr.admit(Demand(model, tokens, worst_case_pusd))
        opened = await mr.forward(checked_bytes, meter, path=RESPONSES_PATH)
        await mr.relay(opened, stream=stream)

The request owns, in order: the ledger back-pressure check (503 when usage
cannot be recorded), admission (limits, queueing, the client-gone watch — which
also covers the wait for a concurrency slot), the worst-case reservation,
forwarding (key failover, 5xx retry, short 429s waited out), relaying the
answer (whole or streamed), then on exit: settle or release the reservation,
correct the TPM/TPD (and audio seconds) counters, free the concurrency slot,
and write exactly ONE ledger record, chosen by its :class:`Outcome`, carrying
the request's attribution (end user and tags, :mod:`teamgate.ledger.attribution`:
``x-teamgate-*`` headers read on entry, a malformed one a 400 recorded once).

The outcome is set where it is decided (a refusal, Groq's status, a timeout,
a cut stream), never inferred from attributes carried on exceptions; an
exception escaping before any decision is classified once, on exit.

Beside it: :mod:`.demand` (what a request holds), :mod:`.headers` (the team's answer
headers, from the request's one ``Payer``), :mod:`.answers` (reading or streaming
Groq's answer), :mod:`.record` (the one ledger record).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING

from teamgate.auth.pauses import ScopePaused
from teamgate.budget import ReservationAbandoned
from teamgate.budget.reservation import Reservation
from teamgate.http.asgi import ClientDisconnected, Receive, Scope, Send, send_bytes
from teamgate.http.errors import (
    BudgetExceeded,
    GatewayError,
    InvalidRequest,
    PayloadTooLarge,
    RateLimited,
    StateUnavailable,
    UpstreamTimeout,
)
from teamgate.ledger import attribution
from teamgate.ledger.attribution import Attribution
from teamgate.ledger.records import ClientKey
from teamgate.ledger.shutdown import refuse_if_backlogged
from teamgate.lifecycle.answers import read_whole, relay_stream
from teamgate.lifecycle.bill import NO_BILL, Bill, Meter
from teamgate.lifecycle.demand import Demand
from teamgate.lifecycle.headers import answer_headers, payer_of, team_headers
from teamgate.lifecycle.outcome import Charge, Outcome
from teamgate.lifecycle.record import write_record
from teamgate.lifecycle.watch import ClientWatch
from teamgate.limits import ClientGone
from teamgate.limits.ticket import Ticket
from teamgate.runtime import Gateway
from teamgate.upstream.error_body import groq_shaped_error
from teamgate.upstream.forward import Opened, Payload, UpstreamAttempt, open_upstream

if TYPE_CHECKING:  # only with Redis configured (the redis extra)
    from teamgate.shared_redis.gate import CombinedGate

log = logging.getLogger("teamgate.lifecycle")

CLIENT_CLOSED = 499  # the status recorded for a client that left before an answer


class MeteredRequest:
    """One metered request; see the module docstring."""

    __slots__ = (
        "_settled",
        "attribution",
        "bill",
        "demand",
        "endpoint",
        "error_code",
        "gw",
        "key",
        "meter",
        "model",
        "model_requested",
        "outcome",
        "payer",
        "queue_s",
        "receive",
        "request_id",
        "reservation",
        "scope",
        "send",
        "settle_first",
        "started",
        "status",
        "streamed",
        "ticket",
        "ts",
        "upstream",
        "watch",
    )

    def __init__(
        self,
        gw: Gateway,
        scope: Scope,
        receive: Receive,
        send: Send,
        key: ClientKey,
        endpoint: str,
    ) -> None:
        self.gw = gw
        self.scope = scope
        self.receive = receive
        self.send = send
        self.key = key
        self.payer = payer_of(key)  # whose budgets this request spends, built once
        self.endpoint = endpoint
        self.request_id = gw.request_ids.next()
        self.ts = time.time()
        self.started = time.perf_counter()
        self.model_requested = ""
        self.model = ""
        self.streamed = False
        self.outcome: Outcome | None = None
        self.status = 0
        self.error_code = ""
        self.bill: Bill = NO_BILL
        self.meter: Meter | None = None
        self.upstream = UpstreamAttempt()
        self.queue_s = -1.0  # time in admission; -1: never admitted
        self.demand: Demand | None = None
        self.ticket: Ticket | None = None
        self.reservation: Reservation | None = None
        self.watch: ClientWatch | None = None
        self.settle_first = False  # settle before the client sees the answer
        self._settled = False
        self.attribution: Attribution = attribution.NONE

    # --- the adapter's steps ---------------------------------------------------------------
    def attribute_body(self, body: dict[str, object]) -> None:
        """Take the body's ``user`` (checked; 400 if malformed) unless ``x-teamgate-user``
        named the end user already. The body itself goes to Groq as the client wrote it."""
        self.attribution = attribution.with_body_user(self.attribution, body.get("user"))

    def describe(self, model_requested: str, model: str = "", streamed: bool = False) -> None:
        """What the client asked for and what policy made of it (for the record)."""
        self.model_requested = model_requested[:200]
        self.model = model
        self.streamed = streamed

    def refuse_if_backlogged(self) -> None:
        """503 while the ledger cannot be written and its backlog is full (no request is
        served that could not be recorded). :meth:`admit` starts with it."""
        gw = self.gw
        try:
            refuse_if_backlogged(gw.ledger, gw.settings.storage.max_pending_records)
        except StateUnavailable as exc:
            self.decide(Outcome.BACKLOGGED, exc.status)
            raise

    async def admit(self, demand: Demand) -> None:
        """Back-pressure check, limits (queueing while the client stays), the reservation."""
        gw = self.gw
        self.demand = demand
        pause = gw.keys.paused(self.key)
        if pause is not None:  # recorded as INVALID with code scope_paused (one record)
            raise ScopePaused(pause)
        self.refuse_if_backlogged()
        watch = self.watch = ClientWatch(self.receive)
        waiting = time.perf_counter()
        try:
            await self._admit_at_once(demand)
            if self.ticket is None:
                await self._limit(demand, watch)
            if self.reservation is None:
                await self._reserve(demand, watch)
        finally:
            self.queue_s = time.perf_counter() - waiting
        if watch.gone:  # left while queued: admitted, but nobody to answer
            self.decide(Outcome.CLIENT_GONE_QUEUED, CLIENT_CLOSED)
            raise ClientGone

    async def _admit_at_once(self, demand: Demand) -> None:
        """On Redis: the limits, and the budget if it fits, in ONE script call. What it did
        not do (nothing, when a limit refused; the reservation, when the budget did not
        fit) is left to the separate steps, which refuse, queue and wait as always."""
        gw = self.gw
        gate = self._gate(demand)
        if gate is None:
            return
        with gw.tracing.span(
            "teamgate.admission",
            team=self.key.team,
            environment=self.key.environment,
            model=demand.model,
            cost_picodollars=demand.worst_case_pusd,
        ):
            both = await gate.admit(
                gw.limiter,
                gw.budget,
                self.key.team,
                demand.model,
                demand.tokens,
                self.payer,
                demand.worst_case_pusd,
            )
        if both is not None:
            self.ticket, self.reservation = both

    def _gate(self, demand: Demand | None) -> CombinedGate | None:
        """Redis's one-call admission and settlement, for every demand but audio seconds
        (the separate steps handle those); None without Redis."""
        shared = self.gw.shared
        if shared is None or (demand is not None and demand.audio_seconds):
            return None
        return shared.gate

    async def _limit(self, demand: Demand, watch: ClientWatch) -> None:
        """The limits (queueing while the client stays)."""
        gw, team = self.gw, self.key.team
        try:
            with gw.tracing.span(
                "teamgate.admission",
                team=team,
                environment=self.key.environment,
                model=demand.model,
            ):
                self.ticket = await gw.limiter.admit(
                    team,
                    demand.model,
                    demand.tokens,
                    client_gone=watch,
                    audio_seconds=demand.audio_seconds,
                )
        except (RateLimited, PayloadTooLarge) as exc:
            self.error_code = getattr(exc, "reason", "")
            self.decide(Outcome.LIMIT_REFUSED, exc.status)
            raise
        except ClientGone:
            self.decide(Outcome.CLIENT_GONE_QUEUED, CLIENT_CLOSED)
            raise

    async def _reserve(self, demand: Demand, watch: ClientWatch) -> None:
        """The worst case against every budget of the key (waiting while the client stays)."""
        gw = self.gw
        try:
            with gw.tracing.span("teamgate.reservation", cost_picodollars=demand.worst_case_pusd):
                self.reservation = await gw.budget.reserve(
                    self.payer, demand.worst_case_pusd, client_gone=watch.event
                )
        except BudgetExceeded as exc:
            if demand.fit_field is not None:
                fit = gw.prices.max_completion_fit(
                    demand.model, demand.prompt_bound, exc.available_pusd
                )
                exc.add_fit(fit, field=demand.fit_field)
            self.error_code = exc.reason
            self.decide(Outcome.BUDGET_REFUSED, exc.status)
            raise
        except ReservationAbandoned:
            self.decide(Outcome.CLIENT_GONE_QUEUED, CLIENT_CLOSED)
            raise

    async def forward(
        self,
        body: Payload,
        meter: Meter,
        *,
        path: str,
        method: str = "POST",
        content_type: str | None = None,
    ) -> Opened:
        """Send the checked bytes to the key's Groq Project; Groq's response, unread."""
        gw = self.gw
        self.meter = meter
        project = gw.projects[(self.key.team, self.key.environment)]
        tracing = gw.tracing
        try:
            with tracing.span("teamgate.upstream", model=self.model or None) as span:
                opened = await open_upstream(
                    gw.client,
                    gw.keyring,
                    project,
                    self.scope["headers"],
                    body,
                    path=path,
                    method=method,
                    content_type=content_type,
                    retry_429_deadline_s=gw.settings.upstream.retry_429_deadline_s,
                    attempt=self.upstream,
                    extra_headers=tracing.traceparent(),  # Groq's side joins the trace
                )
                tracing.set(span, status=opened.resp.status)
        except UpstreamTimeout as exc:
            sent = Outcome.UPSTREAM_TIMEOUT_AFTER_SEND
            self.decide(sent if exc.sent else Outcome.CONNECT_TIMEOUT, exc.status)
            raise
        except InvalidRequest as exc:  # a header Groq must not see: nothing was sent
            self.error_code = exc.code
            self.decide(Outcome.INVALID, exc.status)
            raise
        except GatewayError as exc:  # unreachable, or no usable key: nothing billed
            self.decide(Outcome.UPSTREAM_UNREACHABLE, exc.status)
            raise
        if self.demand is not None and self.demand.model:
            gw.limiter.observe_upstream(self.demand.model, opened.resp.headers)
        return opened

    async def relay(
        self,
        opened: Opened,
        *,
        stream: bool = False,
        on_served: Callable[[bytes], Awaitable[None]] | None = None,
    ) -> None:
        """Pass Groq's answer on (SSE as it comes, else whole) and bill it.

        ``on_served`` runs on a whole 200 answer before the client sees it
        (a batch registers its id there). Groq's response is released here.
        """
        resp = opened.resp
        try:
            headers = answer_headers(self.gw, self.payer, resp)
            ctype = resp.headers.get("content-type", "")
            if resp.status == 200 and stream and ctype.startswith("text/event-stream"):
                await relay_stream(self, resp, headers)
                return
            data = await read_whole(self, resp)
            if resp.status != 200:
                self.decide(Outcome.UPSTREAM_ERROR, resp.status)
                shaped = groq_shaped_error(resp.status, ctype, data)
                if shaped is not None:
                    data = shaped
                    headers = [(k, v) for k, v in headers if k.lower() != b"content-type"]
                    headers.append((b"content-type", b"application/json"))
            else:
                assert self.meter is not None
                self.bill = self.meter.whole(data, ctype)
                self.decide(Outcome.SERVED, 200)
                if on_served is not None:
                    await on_served(data)
            if self.settle_first:
                await self.settle()
            await send_bytes(self.send, resp.status, data, headers)
        finally:
            resp.release()
            opened.key.last_used = time.time()

    def keep_reservation(self) -> Reservation | None:
        """Hand the reservation over (a batch keeps it until it settles); None if none."""
        reservation, self.reservation = self.reservation, None
        return reservation

    # --- the end -------------------------------------------------------------------------
    def decide(self, outcome: Outcome, status: int) -> None:
        self.outcome, self.status = outcome, status

    async def settle(self) -> None:
        """Settle or release the reservation, correct the counters, free the slot (once)."""
        if self._settled:
            return
        self._settled = True
        outcome = self.outcome or Outcome.FAILED
        if outcome.charge is Charge.WORST_CASE and self.meter is not None:
            self.bill = self.meter.worst()
        elif outcome.charge is Charge.NOTHING:
            self.bill = NO_BILL
        bill, ticket, reservation = self.bill, self.ticket, self.reservation
        demand = self.demand
        gate = self._gate(demand)
        if gate is not None and await gate.settle(
            self.gw.budget, ticket, reservation, bill.tokens, bill.cost_pusd
        ):
            return  # Redis: settle, corrections and slot release in one script call
        try:
            if reservation is not None:
                if bill.cost_pusd:
                    await reservation.settle(bill.cost_pusd)
                else:
                    await reservation.release()
            if ticket is not None:
                await ticket.correct(bill.tokens)
                if demand is not None and demand.audio_seconds:
                    billed = bill.audio_seconds or 0
                    await self.gw.limiter.correct_audio(
                        self.key.team, demand.model, demand.audio_seconds, billed
                    )
        finally:
            if ticket is not None:
                await ticket.release()

    async def __aenter__(self) -> MeteredRequest:
        """Read the attribution headers; malformed ones are a 400 recorded (once) like
        any other invalid request, before the body is read."""
        try:
            self.attribution = attribution.from_headers(self.scope["headers"])
        except InvalidRequest as exc:
            await self.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.outcome is None:
            self._classify(exc)
        try:
            await self.settle()
        finally:
            if self.watch is not None:
                self.watch.close()
            write_record(self)
            if isinstance(exc, GatewayError):
                exc.headers.update(team_headers(self.gw, self.payer))

    def _classify(self, exc: BaseException | None) -> None:
        """The outcome of a request that ended before any stage decided one."""
        if isinstance(exc, GatewayError):
            self.error_code = exc.code
            self.decide(Outcome.INVALID, exc.status)
        elif isinstance(exc, asyncio.CancelledError) and self.meter is not None:
            # Stopped after Groq was sent the request: it may run and bill it.
            self.bill = self.meter.worst()
            self.decide(Outcome.CLIENT_GONE_MID_ANSWER, CLIENT_CLOSED)
        elif isinstance(exc, ClientDisconnected | ClientGone | asyncio.CancelledError):
            self.decide(Outcome.CLIENT_GONE_QUEUED, CLIENT_CLOSED)
        else:
            if exc is not None:
                log.error("metered request %s failed", self.request_id, exc_info=exc)
            self.decide(Outcome.FAILED, 500)
