"""Opt-in traces: one SERVER span per request continuing the client's traceparent; free when off."""

from __future__ import annotations

from pathlib import Path

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from teamgate.app import create_app
from teamgate.auth.keys import new_client_key
from teamgate.config.schema import TracingSettings
from teamgate.http.serving import ServerThread
from teamgate.ledger import open_store
from teamgate.observability.serving import wrap_for_serving
from teamgate.observability.tracing import OFF, start_tracing
from teamgate.simulator import Simulator
from tests.conftest import UPSTREAM_SECRETS, build_settings

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"
CHAT = {"model": "llama-3.1-8b-instant", "messages": [{"role": "user", "content": "hi"}]}


def test_off_by_default_nothing_wraps_the_app(simulator: Simulator, tmp_path: Path) -> None:
    app = create_app(build_settings(simulator.url, tmp_path / "l.db"), env=UPSTREAM_SECRETS)  # type: ignore[attr-defined]
    assert wrap_for_serving(app) is app
    assert app.gateway.tracing is OFF
    assert OFF.span("teamgate.admission", team="x") is OFF.span("teamgate.upstream")
    assert OFF.traceparent() == []


async def _issue_key(db: Path) -> str:
    store = open_store(f"sqlite:///{db}")
    await store.open()
    try:
        record, secret = new_client_key("analytics", "prod", "trace")
        await store.add_client_key(record)
        return secret
    finally:
        await store.close()


def test_one_server_span_per_request_continuing_traceparent(
    simulator: Simulator, tmp_path: Path
) -> None:
    import asyncio

    settings = build_settings(simulator.url, tmp_path / "l.db")  # type: ignore[attr-defined]
    key = asyncio.run(_issue_key(tmp_path / "l.db"))
    exporter = InMemorySpanExporter()
    app = create_app(settings, env=UPSTREAM_SECRETS)
    with ServerThread(wrap_for_serving(app, span_exporter=exporter)) as url:
        assert app.gateway.tracing.enabled
        reply = httpx.post(
            url + "/openai/v1/chat/completions",
            json=CHAT,
            headers={
                "Authorization": f"Bearer {key}",
                "traceparent": f"00-{TRACE_ID}-{CLIENT_SPAN}-01",
            },
        )
        assert reply.status_code == 200
        assert (
            httpx.get(url + "/openai/v1/models").status_code == 401
        )  # no traceparent: a new trace
    spans = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert [s.name for s in spans] == [
        "POST /openai/v1/chat/completions",
        "GET /openai/v1/models",
    ]
    chat, models = spans
    assert chat.kind is SpanKind.SERVER
    assert format(chat.context.trace_id, "032x") == TRACE_ID
    assert chat.parent is not None and format(chat.parent.span_id, "016x") == CLIENT_SPAN
    assert chat.attributes is not None
    assert chat.attributes["teamgate.team"] == "analytics"
    assert chat.attributes["http.response.status_code"] == 200
    assert str(chat.attributes["teamgate.request_id"]).startswith("req_")
    assert chat.resource.attributes["service.name"] == "teamgate"
    assert models.parent is None and format(models.context.trace_id, "032x") != TRACE_ID
    assert models.attributes is not None and "teamgate.team" not in models.attributes
    assert key not in repr([dict(s.attributes or {}) for s in spans])


def test_child_spans_and_the_traceparent_for_groq() -> None:
    exporter = InMemorySpanExporter()
    tracing = start_tracing(TracingSettings(service_name="gw-test"), exporter=exporter)
    with (
        tracing.span("teamgate.request") as root,
        tracing.span("teamgate.upstream", team="chatbot", model="m") as upstream,
    ):
        headers = tracing.traceparent()
        tracing.set(upstream, status=200, cost_picodollars=1234)
    tracing.shutdown()
    ((name, value),) = headers
    version, trace_id, span_id, flags = value.split("-")
    upstream_span, root_span = exporter.get_finished_spans()
    assert name == "traceparent" and version == "00" and int(flags, 16) & 1  # sampled
    assert trace_id == format(root.get_span_context().trace_id, "032x")
    assert span_id == format(upstream.get_span_context().span_id, "016x")
    assert upstream_span.parent is not None
    assert upstream_span.parent.span_id == root_span.context.span_id
    assert dict(upstream_span.attributes or {}) == {
        "teamgate.team": "chatbot",
        "teamgate.model": "m",
        "teamgate.status": 200,
        "teamgate.cost_picodollars": 1234,
    }
    assert root_span.resource.attributes["service.name"] == "gw-test"


def test_the_lifecycle_opens_its_child_spans_and_groq_joins_the_trace(
    simulator: Simulator, tmp_path: Path
) -> None:
    """Admission, reservation, the upstream call and the ledger hand-off, each a child of
    the request's span; the request's span carries the outcome's figures; Groq receives a
    traceparent of the same trace (the upstream span's)."""
    import asyncio

    settings = build_settings(simulator.url, tmp_path / "l.db")  # type: ignore[attr-defined]
    key = asyncio.run(_issue_key(tmp_path / "l.db"))
    exporter = InMemorySpanExporter()
    app = create_app(settings, env=UPSTREAM_SECRETS)
    with ServerThread(wrap_for_serving(app, span_exporter=exporter)) as url:
        reply = httpx.post(
            url + "/openai/v1/chat/completions",
            json=CHAT,
            headers={"Authorization": f"Bearer {key}"},
        )
        assert reply.status_code == 200
    spans = {s.name: s for s in exporter.get_finished_spans()}
    server = spans["POST /openai/v1/chat/completions"]
    children = [
        "teamgate.admission",
        "teamgate.reservation",
        "teamgate.upstream",
        "teamgate.ledger",
    ]
    for name in children:
        span = spans[name]
        assert span.parent is not None and span.parent.span_id == server.context.span_id, name
        assert span.context.trace_id == server.context.trace_id
    attrs = dict(server.attributes or {})
    ledger = dict(spans["teamgate.ledger"].attributes or {})
    assert attrs["teamgate.environment"] == "prod" and attrs["teamgate.outcome"] == "served"
    assert attrs["teamgate.model"] == "llama-3.1-8b-instant" and attrs["teamgate.status"] == 200
    assert (
        isinstance(attrs["teamgate.cost_picodollars"], int)
        and attrs["teamgate.cost_picodollars"] > 0
    )
    assert ledger["teamgate.cost_picodollars"] == attrs["teamgate.cost_picodollars"]
    assert ledger["teamgate.prompt_tokens"] > 0 and ledger["teamgate.completion_tokens"] > 0
    assert spans["teamgate.upstream"].attributes["teamgate.status"] == 200  # type: ignore[index]
    [sent] = [r for r in simulator.state.requests() if r.path.endswith("/chat/completions")]
    _version, trace_id, parent_id, _flags = sent.headers["traceparent"].split("-")
    assert trace_id == format(server.context.trace_id, "032x")
    assert parent_id == format(spans["teamgate.upstream"].context.span_id, "016x")
