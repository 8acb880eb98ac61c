"""OpenTelemetry traces, opt-in (``tracing.otlp_endpoint``, the ``otel`` extra), free when off.

With tracing off nothing here imports OpenTelemetry, no middleware wraps the
app, and :meth:`Tracing.span` returns one shared no-op context manager.

With it on, :class:`TracingMiddleware` opens one SERVER span per HTTP request
at the ASGI level, continuing the client's W3C ``traceparent`` (so the
gateway's span is a child of the caller's), with ``http.request.method``,
``url.path``, ``http.response.status_code``, ``teamgate.team`` and
``teamgate.request_id``. Spans go to the OTLP/HTTP endpoint in batches.

The API for the request lifecycle (child spans are wired there, not here)::

    tracing = gateway.tracing                     # a Tracing, OFF unless configured
    with tracing.span("teamgate.admission", team=key.team, model=model):
        ...                                       # nested under the request's span
    with tracing.span("teamgate.reservation") as span:
        ...
        tracing.set(span, cost_picodollars=cost)  # attributes known later (no-op when off)
    headers += tracing.traceparent()              # [("traceparent", "00-…")] or []
                                                  # for the upstream request to Groq

Names used so far: ``teamgate.admission``, ``teamgate.reservation``,
``teamgate.upstream``, ``teamgate.ledger``; attributes ``team``,
``environment``, ``model``, ``status``, ``prompt_tokens``,
``completion_tokens``, ``cost_picodollars`` (integers, never floats of money),
prefixed ``teamgate.`` by :meth:`Tracing.span`. Never put a key or user text
in an attribute.

>>> OFF.enabled, OFF.traceparent()
(False, [])
>>> with OFF.span("teamgate.admission", team="chatbot") as span:
...     OFF.set(span, model="llama-3.1-8b-instant")
>>> span is None
True
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from teamgate.config.extras import import_for
from teamgate.config.schema import TracingSettings
from teamgate.http.asgi import Receive, Scope, Send, header

log = logging.getLogger("teamgate.tracing")

ASGIApp = Callable[[Scope, Receive, Send], Any]
_NOOP: AbstractContextManager[None] = nullcontext()


class Tracing:
    """Tracing on (an OpenTelemetry tracer) or off (every call a no-op)."""

    def __init__(self, tracer: Any = None, provider: Any = None) -> None:
        self._tracer = tracer
        self._provider = provider
        if tracer is not None:
            from opentelemetry import context, trace
            from opentelemetry.trace.propagation.tracecontext import (
                TraceContextTextMapPropagator,
            )

            self._trace = trace
            self._context = context
            self._propagator = TraceContextTextMapPropagator()

    @property
    def enabled(self) -> bool:
        return self._tracer is not None

    def span(self, name: str, **attributes: Any) -> AbstractContextManager[Any]:
        """A child span of the current one (``None`` as the span when off)."""
        if self._tracer is None:
            return _NOOP
        return self._tracer.start_as_current_span(name, attributes=_attrs(attributes))  # type: ignore[no-any-return]

    def set(self, span: Any, **attributes: Any) -> None:
        """Add attributes to ``span`` (from :meth:`span`); nothing when off."""
        if span is not None:
            span.set_attributes(_attrs(attributes))

    def annotate(self, **attributes: Any) -> None:
        """Add attributes to the current span (the request's); nothing when off."""
        if self._tracer is not None:
            self._trace.get_current_span().set_attributes(_attrs(attributes))

    def traceparent(self) -> list[tuple[str, str]]:
        """The current span's ``traceparent`` header, for a request to Groq; ``[]`` when off."""
        if self._tracer is None:
            return []
        carrier: dict[str, str] = {}
        self._propagator.inject(carrier)
        return list(carrier.items())

    @contextmanager
    def server_span(self, scope: Scope) -> Iterator[Any]:
        """The request's root span, continuing the client's ``traceparent``."""
        carrier = {}
        for name in (b"traceparent", b"tracestate"):
            value = header(scope, name)
            if value is not None:
                carrier[name.decode()] = value.decode("latin-1")
        parent = self._propagator.extract(carrier)
        token = self._context.attach(parent)
        try:
            with self._tracer.start_as_current_span(
                f"{scope['method']} {scope['path'][:100]}",
                kind=self._trace.SpanKind.SERVER,
                attributes={"http.request.method": scope["method"], "url.path": scope["path"]},
            ) as span:
                yield span
        finally:
            self._context.detach(token)

    def shutdown(self) -> None:
        """Export what is pending and stop (at the gateway's shutdown)."""
        if self._provider is not None:
            self._provider.shutdown()


OFF = Tracing()


def _attrs(attributes: dict[str, Any]) -> dict[str, Any]:
    return {(k if "." in k else f"teamgate.{k}"): v for k, v in attributes.items() if v is not None}


def start_tracing(settings: TracingSettings, *, exporter: Any = None) -> Tracing:
    """:data:`OFF` unless ``settings.otlp_endpoint`` is set (or an ``exporter`` is given:
    tests pass the SDK's ``InMemorySpanExporter``, exported synchronously)."""
    if not settings.otlp_endpoint and exporter is None:
        return OFF
    sdk = import_for("opentelemetry.sdk.trace", "otel", "tracing.otlp_endpoint", "set")
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = sdk.TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint))
        )
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    log.info("tracing on: OTLP/HTTP to %s", settings.otlp_endpoint or "a test exporter")
    return Tracing(provider.get_tracer("teamgate"), provider)


class TracingMiddleware:
    """One SERVER span per HTTP request around ``app``; flushes spans at shutdown."""

    def __init__(
        self, app: ASGIApp, tracing: Tracing, *, team_of: Callable[[bytes | None], str | None]
    ) -> None:
        self.app = app
        self.tracing = tracing
        self.team_of = team_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            try:
                await self.app(scope, receive, send)
            finally:
                if scope["type"] == "lifespan":
                    self.tracing.shutdown()
            return
        with self.tracing.server_span(scope) as span:

            async def send_and_record(message: MutableMapping[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    status = message["status"]
                    span.set_attribute("http.response.status_code", status)
                    for name, value in message.get("headers", ()):
                        if name.lower() == b"x-request-id":
                            span.set_attribute("teamgate.request_id", value.decode("latin-1"))
                    if status >= 500:
                        span.set_status(self.tracing._trace.StatusCode.ERROR)
                await send(message)

            team = self.team_of(header(scope, b"authorization"))
            if team is not None:
                span.set_attribute("teamgate.team", team)
            await self.app(scope, receive, send_and_record)
