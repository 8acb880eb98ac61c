"""The simulated Groq: a raw ASGI app speaking Groq's wire format.

Faults (see :mod:`teamgate.simulator.faults`) are chosen per chat completion
request from, in order: the ``x-sim-fault`` header, the scripted queue of the
request's key, the scripted queue for any key, ``config.default_fault``.
``GET models`` honours only the header. The header ``x-sim-completion-tokens: N``
sets the completion length (still capped by the request's max tokens).

>>> sim = create_simulator(SimulatorConfig(completion_tokens=8))
>>> sim.push_faults("gsk_test", "429;retry_after=1")  # next request with gsk_test: 429
>>> sim.revoke_key("gsk_old")                          # gsk_old now gets 401
>>> # ServerThread(sim.app).start() -> "http://127.0.0.1:PORT"
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from teamgate.simulator.asgi import (
    Headers,
    Receive,
    Scope,
    Send,
    drop_connection,
    read_body,
    send_response,
)
from teamgate.simulator.completions import Completion, new_request_id, system_fingerprint
from teamgate.simulator.config import SimulatorConfig, model_card
from teamgate.simulator.control import handle_control
from teamgate.simulator.faults import (
    NO_FAULT,
    FaultPlan,
    FaultQueue,
    FaultSpecError,
    parse_fault_spec,
)
from teamgate.simulator.groq_errors import (
    ErrorAnswer,
    fault_answer,
    invalid_api_key,
    invalid_request,
    model_not_found,
    unknown_url,
)
from teamgate.simulator.keys import KeyRegistry
from teamgate.simulator.ratelimits import RateLimitCounter
from teamgate.simulator.requests import ChatRequest, RequestHeaders, parse_chat_request
from teamgate.simulator.state import InFlight, RecordedRequest, SimulatorState

CHAT_PATH = "/openai/v1/chat/completions"
MODELS_PATH = "/openai/v1/models"
_JSON = (b"content-type", b"application/json")
_SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
_MALFORMED_BODY = b'{"id":"chatcmpl-broken","object":"chat.completion","choices":[{"index":0,'


class Simulator:
    """A Groq stand-in: ``.app`` is the ASGI callable, ``.state`` the recording.

    >>> sim = Simulator(SimulatorConfig(keys={"gsk_a"}))
    >>> sim.state.request_count()
    0
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.state = SimulatorState()
        self.keys = KeyRegistry(self.config.keys)
        self.faults = FaultQueue()
        self.ratelimits = RateLimitCounter(
            self.config.ratelimit_limit_requests,
            self.config.ratelimit_limit_tokens,
            self.config.clock,
        )
        self._models = frozenset(self.config.models)
        cards = [model_card(model).to_json() for model in self.config.models]
        self._models_body = orjson.dumps({"object": "list", "data": cards})
        self._model_bodies = {card["id"]: orjson.dumps(card) for card in cards}
        self._fingerprints = {model: system_fingerprint(model) for model in self.config.models}
        self._default_fault = (
            parse_fault_spec(self.config.default_fault) if self.config.default_fault else None
        )

    # -- control (tests, or HTTP under /_sim) --------------------------------

    def push_faults(self, key: str | None, *specs: str) -> None:
        """Queue fault specs consumed one per chat request (``key`` None: any key)."""
        self.faults.push(key, specs)

    def revoke_key(self, key: str) -> None:
        """Answer 401 ``invalid_api_key`` to ``key`` from now on."""
        self.keys.revoke(key)

    def add_key(self, key: str) -> None:
        """Accept ``key`` from now on."""
        self.keys.add(key)

    def reset(self) -> None:
        """Forget recordings, queued faults, rate-limit counters, added and revoked keys."""
        self.state.reset()
        self.faults.clear()
        self.keys.reset()
        self.ratelimits.reset()

    # -- ASGI -----------------------------------------------------------------

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI 3 entry point."""
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        if path.startswith("/_sim/"):
            await handle_control(self, method, path, await read_body(receive), send)
            return
        headers = RequestHeaders.parse(scope["headers"], full=not self.config.fast)
        if path == CHAT_PATH and method == "POST":
            await self._chat(headers, receive, send)
        elif path == MODELS_PATH or path.startswith(MODELS_PATH + "/"):
            await self._models_route(method, path, headers, receive, send)
        else:
            await read_body(receive)
            await self._answer(send, unknown_url(method, path), new_request_id())

    async def _answer(self, send: Send, answer: ErrorAnswer, request_id: str) -> None:
        status, headers, body = answer
        headers = [*headers, (b"x-request-id", request_id.encode())]
        headers.extend(self.ratelimits.headers(0))
        await send_response(send, status, headers, body)

    def _begin(self, method: str, path: str, headers: RequestHeaders, body: Any = None) -> InFlight:
        record = None
        if not self.config.fast:
            record = RecordedRequest(
                key=headers.key, method=method, path=path, headers=headers.all, body=body
            )
        return self.state.begin(headers.key, headers.authorization, record)

    async def _models_route(
        self, method: str, path: str, headers: RequestHeaders, receive: Receive, send: Send
    ) -> None:
        await read_body(receive)
        request_id = new_request_id()
        handle = self._begin(method, path, headers)
        status: int | None = None
        try:
            if headers.key is None or not self.keys.accepts(headers.key):
                answer = invalid_api_key()
            elif method != "GET":
                answer = unknown_url(method, path)
            else:
                plan = NO_FAULT
                if headers.fault is not None:
                    try:
                        plan = parse_fault_spec(headers.fault)
                    except FaultSpecError as exc:
                        plan, answer = NO_FAULT, invalid_request(str(exc), "invalid_fault_spec")
                        status = answer[0]
                        await self._answer(send, answer, request_id)
                        return
                if await self._early_fault(plan, send, receive):
                    return
                if plan.status is not None:
                    answer = fault_answer(plan, "-", 0)
                elif path == MODELS_PATH:
                    answer = (200, [_JSON], self._models_body)
                else:
                    model = path[len(MODELS_PATH) + 1 :]
                    found = self._model_bodies.get(model)
                    answer = (200, [_JSON], found) if found else model_not_found(model)
            status = answer[0]
            await self._answer(send, answer, request_id)
        finally:
            self.state.finish(handle, status)

    async def _early_fault(self, plan: FaultPlan, send: Send, receive: Receive) -> bool:
        """Latency, then a hang-up if the plan asks for one. True when the connection is gone."""
        delay = self.config.latency_s + plan.latency_s
        if delay > 0:
            await asyncio.sleep(delay)
        if plan.disconnect is not None:
            await drop_connection(send, receive, reset=plan.disconnect == "reset")
            return True
        return False

    def _chat_fault(self, headers: RequestHeaders) -> FaultPlan:
        if headers.fault is not None:
            return parse_fault_spec(headers.fault)
        queued = self.faults.pop(headers.key)
        if queued is not None:
            return queued
        return self._default_fault or NO_FAULT

    async def _chat(self, headers: RequestHeaders, receive: Receive, send: Send) -> None:
        raw = await read_body(receive)
        request_id = new_request_id()
        request = parse_chat_request(raw)
        handle = self._begin("POST", CHAT_PATH, headers, request.body)
        if handle.record is not None:
            request.fill(handle.record)
        status: int | None = None
        try:
            if headers.key is None or not self.keys.accepts(headers.key):
                answer = invalid_api_key()
            else:
                try:
                    plan = self._chat_fault(headers)
                except FaultSpecError as exc:
                    answer = invalid_request(str(exc), "invalid_fault_spec")
                else:
                    if handle.record is not None:
                        handle.record.fault = None if plan is NO_FAULT else plan.spec
                    if await self._early_fault(plan, send, receive):
                        return
                    if plan.status is not None:
                        requested = request.prompt_tokens + (request.cap or 0)
                        answer = fault_answer(plan, request.model or "-", requested)
                    else:
                        status, billed = await self._complete(
                            request, headers, plan, request_id, send, receive
                        )
                        self.state.finish(handle, status, billed)
                        return
            status = answer[0]
            await self._answer(send, answer, request_id)
        finally:
            self.state.finish(handle, status)

    def _validate(self, request: ChatRequest) -> ErrorAnswer | None:
        if request.error is not None:
            return invalid_request(request.error)
        if request.model not in self._models:
            return model_not_found(str(request.model))
        return None

    async def _complete(
        self,
        request: ChatRequest,
        headers: RequestHeaders,
        plan: FaultPlan,
        request_id: str,
        send: Send,
        receive: Receive,
    ) -> tuple[int, tuple[int, int] | None]:
        """Answer a chat request past auth and faults: ``(status, billed tokens or None)``."""
        error = self._validate(request)
        if error is None and headers.completion_tokens_error is not None:
            error = invalid_request(headers.completion_tokens_error)
        if error is not None:
            await self._answer(send, error, request_id)
            return error[0], None
        model = str(request.model)
        wanted = headers.completion_tokens
        completion = Completion.plan(
            model=model,
            prompt_tokens=request.prompt_tokens,
            cap=request.cap,
            wanted=self.config.completion_tokens if wanted is None else wanted,
            request_id=request_id,
            fingerprint=self._fingerprints[model],
        )
        total = completion.prompt_tokens + completion.completion_tokens
        base: Headers = [(b"x-request-id", request_id.encode())]
        base.extend(self.ratelimits.headers(total))
        if plan.malformed:
            await send_response(send, 200, [_JSON, *base], _MALFORMED_BODY)
            return 200, None
        if request.stream:
            done = await self._stream(completion, request, plan, base, send, receive)
        else:
            done = await self._whole(completion, plan, base, send, receive)
        if not done:
            return 200, None
        return 200, (completion.prompt_tokens, completion.completion_tokens)

    async def _whole(
        self, completion: Completion, plan: FaultPlan, base: Headers, send: Send, receive: Receive
    ) -> bool:
        body = completion.body()
        if plan.stream_break_after is None:
            await send_response(send, 200, [_JSON, *base], body)
            return True
        headers = [_JSON, *base, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(
            {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
        )
        await drop_connection(send, receive, reset=False)
        return False

    async def _stream(
        self,
        completion: Completion,
        request: ChatRequest,
        plan: FaultPlan,
        base: Headers,
        send: Send,
        receive: Receive,
    ) -> bool:
        events = completion.stream(
            self.config.chunk_tokens,
            include_usage=request.include_usage,
            with_usage=not plan.stream_no_usage,
        )
        await send({"type": "http.response.start", "status": 200, "headers": [*_SSE, *base]})
        await send({"type": "http.response.body", "body": events.role, "more_body": True})
        delay = plan.chunk_delay_s
        # A slow stream stops when the client hangs up, as Groq stops generating.
        hung_up = asyncio.create_task(_disconnected(receive)) if delay else None
        try:
            return await self._stream_events(
                completion, events, plan, delay, hung_up, send, receive
            )
        finally:
            if hung_up is not None:
                hung_up.cancel()

    async def _stream_events(
        self,
        completion: Completion,
        events: Any,
        plan: FaultPlan,
        delay: float,
        hung_up: asyncio.Task[None] | None,
        send: Send,
        receive: Receive,
    ) -> bool:
        for index, event in enumerate(events.contents):
            if hung_up is not None and hung_up.done():
                return False
            if index == plan.stream_break_after:
                await drop_connection(send, receive, reset=False)
                return False
            if index == plan.stream_error_after:
                await send({"type": "http.response.body", "body": completion.error_event()})
                return False
            if delay:
                await asyncio.sleep(delay)
            await send({"type": "http.response.body", "body": event, "more_body": True})
        if plan.stream_break_after is not None:
            await drop_connection(send, receive, reset=False)
            return False
        if plan.stream_error_after is not None:
            await send({"type": "http.response.body", "body": completion.error_event()})
            return False
        tail = [events.final]
        if events.usage is not None:
            tail.append(events.usage)
        tail.append(b"data: [DONE]\n\n")
        for event in tail:
            await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return True


async def _disconnected(receive: Receive) -> None:
    """Return once the client has disconnected (the request body was already read)."""
    while (await receive())["type"] != "http.disconnect":
        pass


def create_simulator(config: SimulatorConfig | None = None) -> Simulator:
    """A new simulator (see :class:`Simulator`)."""
    return Simulator(config)
