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
import functools
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
from teamgate.simulator.batches import BatchWorld
from teamgate.simulator.completions import Completion, IdSource, system_fingerprint
from teamgate.simulator.config import SimulatorConfig, model_card
from teamgate.simulator.control import handle_control
from teamgate.simulator.delivery import JSON_CONTENT, deliver_stream, deliver_whole
from teamgate.simulator.extras import handle_extra
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
from teamgate.simulator.hold import HoldGate
from teamgate.simulator.keys import KeyRegistry
from teamgate.simulator.ratelimits import RateLimitCounter
from teamgate.simulator.requests import ChatRequest, RequestHeaders, parse_chat_request
from teamgate.simulator.state import InFlight, RecordedRequest, SimulatorState

CHAT_PATH = "/openai/v1/chat/completions"
MODELS_PATH = "/openai/v1/models"
_JSON = JSON_CONTENT
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
        self.gate = HoldGate()
        self._ids = IdSource()
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
        self.batch_world = BatchWorld(completion_tokens=self.config.completion_tokens)

    def complete_batches(self, batch_id: str | None = None) -> int:
        """Test hook: finish ``batch_id`` (None: every batch in progress); how many finished."""
        return self.batch_world.complete(batch_id)

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

    def wait_held(self, count: int, timeout_s: float = 10.0) -> bool:
        """Block (in a thread other than the server's) until ``count`` requests are held."""
        return self.gate.wait_held(count, timeout_s)

    def release_held(self) -> int:
        """Let every request held by the ``hold`` fault go on; returns how many."""
        return self.gate.release()

    def reset(self) -> None:
        """Forget recordings, queued faults, rate-limit counters, added and revoked keys."""
        self.state.reset()
        self.faults.clear()
        self.keys.reset()
        self.ratelimits.reset()
        self.gate.release()

    # -- ASGI -----------------------------------------------------------------

    @property
    def app(self) -> Simulator:
        """The ASGI 3 application (the simulator itself is callable)."""
        return self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
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
        elif await handle_extra(self, method, path, headers, scope, receive, send):
            return
        else:
            await read_body(receive)
            await self._answer(send, unknown_url(method, path), self._ids.request_id())

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
        request_id = self._ids.request_id()
        handle = self._begin(method, path, headers)
        status: int | None = None
        try:
            answer = await self._models_answer(method, path, headers, send, receive, handle)
            if answer is not None:
                status = answer[0]
                await self._answer(send, answer, request_id)
        finally:
            self.state.finish(handle, status)

    async def _models_answer(
        self,
        method: str,
        path: str,
        headers: RequestHeaders,
        send: Send,
        receive: Receive,
        handle: InFlight,
    ) -> ErrorAnswer | None:
        if headers.key is None or not self.keys.accepts(headers.key):
            return invalid_api_key()
        if method != "GET":
            return unknown_url(method, path)
        try:
            plan = NO_FAULT if headers.fault is None else parse_fault_spec(headers.fault)
        except FaultSpecError as exc:
            return invalid_request(str(exc), "invalid_fault_spec")
        if await self._early_fault(plan, send, receive, handle):
            return None
        if plan.status is not None:
            return fault_answer(plan, "-", 0)
        if path == MODELS_PATH:
            return 200, [_JSON], self._models_body
        model = path[len(MODELS_PATH) + 1 :]
        found = self._model_bodies.get(model)
        return (200, [_JSON], found) if found else model_not_found(model)

    async def _early_fault(
        self, plan: FaultPlan, send: Send, receive: Receive, handle: InFlight
    ) -> bool:
        """Latency, a hold, then a hang-up if asked. True when the connection is gone."""
        delay = self.config.latency_s + plan.latency_s
        if delay > 0:
            await asyncio.sleep(delay)
        if plan.hold_s is not None:
            await self.gate.hold(plan.hold_s)
        if plan.disconnect is not None:
            await self._cut(handle, None, send, receive, reset=plan.disconnect == "reset")
            return True
        return False

    async def _cut(
        self, handle: InFlight, status: int | None, send: Send, receive: Receive, *, reset: bool
    ) -> None:
        """Record the request as finished (unbilled), then hang up on the client."""
        self.state.finish(handle, status)
        await drop_connection(send, receive, reset=reset)

    def _chat_fault(self, headers: RequestHeaders) -> FaultPlan:
        if headers.fault is not None:
            return parse_fault_spec(headers.fault)
        queued = self.faults.pop(headers.key)
        if queued is not None:
            return queued
        return self._default_fault or NO_FAULT

    async def _chat(self, headers: RequestHeaders, receive: Receive, send: Send) -> None:
        raw = await read_body(receive)
        request_id = self._ids.request_id()
        request = parse_chat_request(raw)
        handle = self._begin("POST", CHAT_PATH, headers, request.body)
        if handle.record is not None:
            request.fill(handle.record)
            handle.record.raw = raw
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
                    if await self._early_fault(plan, send, receive, handle):
                        return
                    if plan.status is not None:
                        requested = request.prompt_tokens + (request.cap or 0)
                        answer = fault_answer(plan, request.model or "-", requested)
                    else:
                        status, billed = await self._complete(
                            request, headers, plan, request_id, send, receive, handle
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
        handle: InFlight,
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
            completion_id=self._ids.completion_id(request_id),
            fingerprint=self._fingerprints[model],
        )
        total = completion.prompt_tokens + completion.completion_tokens
        base: Headers = [(b"x-request-id", request_id.encode())]
        base.extend(self.ratelimits.headers(total))
        if plan.malformed:
            await send_response(send, 200, [_JSON, *base], _MALFORMED_BODY)
            return 200, None
        cut = functools.partial(self._cut, handle, 200, send, receive, reset=False)
        if request.stream:
            done = await deliver_stream(
                send,
                completion,
                plan,
                base,
                cut,
                chunk_tokens=self.config.chunk_tokens,
                include_usage=request.include_usage,
                receive=receive,
            )
        else:
            done = await deliver_whole(send, completion, plan, base, cut)
        if not done:
            return 200, None
        return 200, (completion.prompt_tokens, completion.completion_tokens)


def create_simulator(config: SimulatorConfig | None = None) -> Simulator:
    """A new simulator (see :class:`Simulator`)."""
    return Simulator(config)
