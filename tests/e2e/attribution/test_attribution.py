"""Attribution end to end: end users and feature tags on every ledger record, reports by them.

* 1,000 requests over chat (whole and streamed), Responses (whole and streamed),
  embeddings and refusals, carrying end users (body ``user``, ``x-teamgate-user``
  or both: the header wins) and tags: every record carries what its request
  sent, and the sums per user and per tag equal the team's total to the
  picodollar, in the store and in the reports, over SQLite and PostgreSQL.
* Invalid attribution (a table of cases, over every metered endpoint): a clear
  400 ``invalid_attribution``, exactly one ledger record, nothing sent to Groq.
* Attribution never reaches Groq: ``x-teamgate-*`` stay in teamgate, the body's
  ``user`` is forwarded only when the client wrote it.
* No user or tag ever becomes a Prometheus label.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from teamgate.http.serving import ServerThread
from teamgate.ledger.attribution import tag_value
from teamgate.ledger.postgres.store import PostgresStore
from teamgate.ledger.records import UsageRecord
from teamgate.observability.metrics import render_metrics
from teamgate.reports import build_report, default_month
from teamgate.simulator import Simulator, create_simulator
from teamgate.simulator.config import SimulatorConfig
from tests.support.asgi_gateway import (
    BATCH_LINE,
    EMBED,
    KEY_1,
    MODEL,
    TEAM,
    Harness,
    Request,
    audio,
    batch_create,
    owned_batch_file,
    running,
)
from tests.support.shared_services import (
    POSTGRES_URL,
    create_schema,
    drop_schema,
    schema_url,
    unique_name,
)

ROOMY = {"teams": {TEAM: {"limits": {"rpm": 100_000, "tpd": 100_000_000, "concurrency": 50}}}}
USERS = [f"user-{i:02d}" for i in range(37)] + ["alice@example.com", "Zoë"]
FEATURES = ("search", "chat", "summarize", "translate", "classify")
TENANTS = ("acme", "globex", "initech")
KINDS = ("chat", "chat-stream", "responses", "responses-stream", "embeddings", "refused")
WEIGHTS = (35, 25, 12, 10, 12, 6)


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    """Groq announcing organization limits no test here reaches (1,000 requests in seconds)."""
    config = SimulatorConfig(ratelimit_limit_requests=10**7, ratelimit_limit_tokens=10**9)
    sim = create_simulator(config)
    with ServerThread(sim.app) as url:
        sim.url = url  # type: ignore[attr-defined]
        yield sim


def body_of(kind: str) -> dict[str, Any]:
    if kind == "embeddings":
        return {"model": EMBED, "input": ["a", "b c"]}
    if kind.startswith("responses"):
        return {"model": MODEL, "input": "hello there", "stream": kind.endswith("stream")}
    model = "not-an-allowed-model" if kind == "refused" else MODEL
    return {
        "model": model,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": kind == "chat-stream",
        "max_tokens": 300,
    }


PATHS = {
    "chat": "/openai/v1/chat/completions",
    "chat-stream": "/openai/v1/chat/completions",
    "refused": "/openai/v1/chat/completions",
    "responses": "/openai/v1/responses",
    "responses-stream": "/openai/v1/responses",
    "embeddings": "/openai/v1/embeddings",
}


def plan(rng: random.Random) -> tuple[str, Request, dict[str, str], tuple[str, str]]:
    """One request: its kind, the request, its headers, and the (user, tags) expected."""
    kind = rng.choices(KINDS, WEIGHTS)[0]
    body = body_of(kind)
    headers: dict[str, str] = {}
    user = ""
    channel = rng.choice(("body", "header", "both", "none"))
    if channel in ("body", "both"):
        body["user"] = user = rng.choice(USERS)
    if channel in ("header", "both"):
        headers["x-teamgate-user"] = user = rng.choice(USERS)  # the header wins
    tags = ""
    shape = rng.choice(("none", "feature", "both", "both-reversed"))
    feature, tenant = rng.choice(FEATURES), rng.choice(TENANTS)
    if shape == "feature":
        headers["x-teamgate-tags"] = f"feature={feature}"
        tags = f"feature={feature}"
    elif shape != "none":
        pairs = [f"feature={feature}", f" tenant={tenant} "]
        if shape == "both-reversed":
            pairs.reverse()
        headers["x-teamgate-tags"] = ",".join(pairs)
        tags = f"feature={feature},tenant={tenant}"
    return kind, Request(PATHS[kind], orjson.dumps(body)), headers, (user, tags)


@asynccontextmanager
async def gateway_on(
    backend: str, simulator: Simulator, tmp_path: Path, patch: dict[str, Any]
) -> AsyncIterator[Harness]:
    simulator._models = simulator._models | {EMBED}  # type: ignore[attr-defined]
    url = simulator.url  # type: ignore[attr-defined]
    if backend == "sqlite":
        async with running(url, tmp_path, patch) as h:
            yield h
        return
    schema = unique_name("attr")
    await create_schema(schema)
    try:
        await PostgresStore(POSTGRES_URL, schema=schema).migrate()
        async with running(url, tmp_path, patch, storage_url=schema_url(schema)) as h:
            yield h
    finally:
        await drop_schema(schema)


def sums_by(records: list[UsageRecord], dim: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in records:
        value = r.end_user if dim == "user" else tag_value(r.tags, dim[4:])
        out[value][0] += 1
        out[value][1] += r.cost_pusd
    return dict(out)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_1000_attributed_requests_sum_to_the_team_total(
    backend: str, simulator: Simulator, tmp_path: Path
) -> None:
    rng = random.Random(19)
    plans = [plan(rng) for _ in range(1000)]
    async with gateway_on(backend, simulator, tmp_path, ROOMY) as h:
        replies = []
        for start in range(0, len(plans), 25):
            chunk = plans[start : start + 25]
            replies += await asyncio.gather(*(h.call(req, headers=hd) for _, req, hd, _ in chunk))
        for (kind, _, _, _), reply in zip(plans, replies, strict=True):
            assert reply.status == (403 if kind == "refused" else 200), (kind, reply.body[:200])
        records = await h.records()
        assert h.gw.store is not None
        store, now = h.gw.store, time.time()
        # One record per request, each with what its request sent.
        assert len(records) == 1000
        assert Counter((r.end_user, r.tags) for r in records) == Counter(p[3] for p in plans)
        assert {r.endpoint for r in records} == {"chat.completions", "responses", "embeddings"}
        assert sum(r.streamed for r in records) == sum(p[0].endswith("stream") for p in plans)
        total = sum(r.cost_pusd for r in records)
        assert total > 0
        [whole] = await store.usage_summary(0, now + 1, team=TEAM)
        assert whole.cost_pusd == total
        for dim in ("user", "tag:feature", "tag:tenant"):
            groups = await store.usage_summary(0, now + 1, (dim,), team=TEAM)
            assert {g[dim]: [g.requests, g.cost_pusd] for g in groups} == sums_by(records, dim)
            assert sum(g.cost_pusd for g in groups) == total  # to the picodollar
        both = await store.usage_summary(0, now + 1, ("user", "tag:feature"))
        assert sum(g.cost_pusd for g in both) == total
        # The reports: per team, the breakdown's lines sum to the team's line.
        period = default_month(now, h.gw.settings.org.timezone)
        for by in ("user", "tag:feature", "tag:tenant"):
            report = await build_report(store, h.gw.settings, period, by=by)
            [line] = [t for t in report.teams if t.team == TEAM]
            assert line.cost_pusd == total
            mine = [b for b in report.breakdown if b.team == TEAM]
            assert sum(b.cost_pusd for b in mine) == total
            assert sum(b.requests for b in mine) == 1000
            assert {b.value for b in mine} == set(sums_by(records, by))


# --- invalid attribution: a clear 400, one record, nothing sent -------------------------
LONG_KEY = "k" * 33
INVALID = [
    # (case, headers, body user (None: absent), what the message says)
    ("no equals sign", {"x-teamgate-tags": "feature"}, None, "is not key=value"),
    ("empty item", {"x-teamgate-tags": "feature=a,,tenant=b"}, None, "is not key=value"),
    ("uppercase key", {"x-teamgate-tags": "Feature=a"}, None, "tag key 'Feature' must be"),
    ("key starts with a digit", {"x-teamgate-tags": "1x=a"}, None, "starting with a letter"),
    ("key too long", {"x-teamgate-tags": f"{LONG_KEY}=a"}, None, "1 to 32 characters"),
    ("empty value", {"x-teamgate-tags": "feature="}, None, "the value of tag 'feature'"),
    ("value too long", {"x-teamgate-tags": "feature=" + "v" * 65}, None, "1 to 64 characters"),
    ("space in value", {"x-teamgate-tags": "feature=a b"}, None, "the value of tag 'feature'"),
    ("semicolon in value", {"x-teamgate-tags": "feature=a;b"}, None, "the value of tag"),
    ("non-ASCII value", {"x-teamgate-tags": "feature=café"}, None, "the value of tag"),
    ("key twice", {"x-teamgate-tags": "feature=a,feature=b"}, None, "given twice"),
    (
        "nine tags",
        {"x-teamgate-tags": ",".join(f"k{i}=v" for i in range(9))},
        None,
        "more than 8 tags",
    ),
    ("empty user header", {"x-teamgate-user": ""}, None, "the end-user id is empty"),
    ("user header too long", {"x-teamgate-user": "u" * 257}, None, "at most 256"),
    ("control character", {"x-teamgate-user": "bob\x01"}, None, "control character"),
    ("body user not a string", {}, 42, "must be a string"),
    ("body user empty", {}, "", "the end-user id is empty"),
    ("body user too long", {}, "u" * 300, "at most 256"),
]


@pytest.mark.parametrize(
    ("case", "headers", "body_user", "says"), INVALID, ids=[c[0] for c in INVALID]
)
async def test_invalid_attribution_is_a_clear_400_recorded_once(
    case: str,
    headers: dict[str, str],
    body_user: object,
    says: str,
    simulator: Simulator,
    tmp_path: Path,
) -> None:
    body: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    if body_user is not None:
        body["user"] = body_user
    async with gateway_on("sqlite", simulator, tmp_path, {}) as h:
        sent = len(simulator.state.requests())
        reply = await h.call(
            Request("/openai/v1/chat/completions", orjson.dumps(body)), headers=headers
        )
        assert reply.status == 400
        error = orjson.loads(reply.body)["error"]
        assert error["code"] == "invalid_attribution"
        assert error["type"] == "invalid_request_error"
        assert says in error["message"]
        where = "user" if body_user is not None else next(iter(headers))
        assert error["message"].startswith(f"{where}: ")
        records = await h.records()
        assert [(r.status, r.refusal, r.cost_pusd) for r in records] == [
            (400, "invalid_attribution", 0)
        ]
        assert (records[0].end_user, records[0].tags) == ("", "")
        assert len(simulator.state.requests()) == sent  # Groq saw nothing


METERED = ["chat", "chat-stream", "responses", "embeddings", "transcription", "batch", "file"]


async def _metered_request(name: str, h: Harness, simulator: Simulator) -> Request:
    if name == "transcription":
        return audio("transcriptions")
    if name == "batch":
        return batch_create(await owned_batch_file(h, KEY_1, simulator.batch_world))
    if name == "file":
        built = httpx.Request(
            "POST",
            "http://x/",
            data={"purpose": "batch"},
            files={"file": ("in.jsonl", BATCH_LINE + b"\n", "application/jsonl")},
        )
        return Request("/openai/v1/files", built.read(), built.headers["content-type"])
    return Request(PATHS[name], orjson.dumps(body_of(name)))


@pytest.mark.parametrize("name", METERED)
async def test_every_metered_endpoint_refuses_bad_tags_once_and_records_good_ones(
    name: str, simulator: Simulator, tmp_path: Path
) -> None:
    async with gateway_on("sqlite", simulator, tmp_path, ROOMY) as h:
        request = await _metered_request(name, h, simulator)
        sent = len(simulator.state.requests())
        bad = await h.call(request, headers={"x-teamgate-tags": "feature=a b"})
        assert bad.status == 400
        assert orjson.loads(bad.body)["error"]["code"] == "invalid_attribution"
        assert len(simulator.state.requests()) == sent
        good = await h.call(
            request, headers={"x-teamgate-user": "u-7", "x-teamgate-tags": "tenant=acme,feature=x"}
        )
        records = await h.records()
        assert len(records) == 2  # one each, never two for one request
        refused, recorded = records
        assert (refused.refusal, refused.status, refused.end_user) == (
            "invalid_attribution",
            400,
            "",
        )
        assert recorded.refusal != "invalid_attribution", good.body[:300]
        assert (recorded.end_user, recorded.tags) == ("u-7", "feature=x,tenant=acme")


# --- what Groq sees ---------------------------------------------------------------------
async def test_attribution_headers_never_reach_groq_and_the_body_is_the_clients(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with gateway_on("sqlite", simulator, tmp_path, ROOMY) as h:
        cases = [
            ({"x-teamgate-user": "hdr", "x-teamgate-tags": "feature=f"}, None, ("hdr", "f")),
            ({"x-teamgate-tags": "feature=g"}, "from-body", ("from-body", "g")),
            ({"x-teamgate-user": "hdr"}, "from-body", ("hdr", "")),  # the header wins
            ({"x-teamgate-tags": ""}, None, ("", "")),  # an empty header: no tags
        ]
        for headers, body_user, _ in cases:
            for kind in ("chat", "chat-stream", "responses", "embeddings"):
                body = body_of(kind)
                if body_user is not None:
                    body["user"] = body_user
                simulator.state.reset()
                reply = await h.call(Request(PATHS[kind], orjson.dumps(body)), headers=headers)
                assert reply.status == 200, reply.body[:200]
                [seen] = simulator.state.requests()
                assert not any(k.startswith("x-teamgate") for k in seen.headers), seen.headers
                forwarded = orjson.loads(seen.raw) if seen.raw else seen.body
                assert forwarded.get("user") == body_user, (kind, forwarded)
        records = await h.records()
        got = [(r.end_user, tag_value(r.tags, "feature")) for r in records]
        assert got == [want for _, _, want in cases for _ in range(4)]


async def test_no_user_or_tag_becomes_a_prometheus_label(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with gateway_on("sqlite", simulator, tmp_path, ROOMY) as h:
        for i in range(5):
            headers = {"x-teamgate-user": f"person-{i}", "x-teamgate-tags": f"feature=feat-{i}"}
            reply = await h.call(
                Request(PATHS["chat"], orjson.dumps(body_of("chat"))), headers=headers
            )
            assert reply.status == 200
        text = render_metrics(h.gw.metrics, h.gw)
        assert "teamgate_requests_total" in text
        labels = set()
        for line in text.splitlines():
            if line.startswith("#") or "{" not in line:
                continue
            inside = line[line.index("{") + 1 : line.rindex("}")]
            labels |= {pair.split("=", 1)[0] for pair in inside.split('",') if "=" in pair}
        assert not labels & {"user", "end_user", "tag", "tags", "feature", "tenant"}, labels
        assert "person-" not in text and "feat-" not in text
