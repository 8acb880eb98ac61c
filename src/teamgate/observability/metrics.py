"""Prometheus metrics from cheap in-process counters, rendered as text on ``GET /metrics``.

The request path only increments dict entries (:meth:`Metrics.observe`, called
once per ledger record from ``MeteredRequest``): no locks (one event loop), no
client library. Gauges (budget, queue depth, upstream keys) are read from the
gateway when the page is rendered. Labels are bounded: team and upstream key
names come from the config, models from the teams' allowlists (``none`` when a
request was refused before its model was resolved), statuses are HTTP codes and
refusal reasons are teamgate's error codes; never ids, secrets or user text.

>>> m = Metrics()
>>> m.requests[("chatbot", "llama-3.1-8b-instant", 200)] = 3
>>> "teamgate_requests_total" in render_metrics(m)
True
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from teamgate.ledger.records import UsageRecord
from teamgate.pricing.money import PICO_PER_USD

if TYPE_CHECKING:
    from teamgate.runtime import Gateway

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

QUEUE_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
UPSTREAM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)


class Histogram:
    """Cumulative-bucket histogram: ``observe`` is a bisect and three additions.

    >>> h = Histogram((0.1, 1.0)); h.observe(0.5); h.observe(5.0)
    >>> h.counts, h.count
    ([0, 1, 1], 2)
    """

    __slots__ = ("bounds", "count", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value
        self.count += 1


class Metrics:
    """The gateway's counters and histograms (one per :class:`Gateway`).

    >>> m = Metrics()
    >>> # m.observe(record, model="llama-3.1-8b-instant", queue_s=0.0, upstream_s=0.2)
    """

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = {}
        self.tokens: dict[tuple[str, str, str], int] = {}
        self.spend_pusd: dict[str, int] = {}
        self.refusals: dict[tuple[str, str], int] = {}
        self.queue_wait: dict[str, Histogram] = {}
        self.upstream_latency: dict[str, Histogram] = {}
        self.overhead = Histogram(OVERHEAD_BUCKETS)

    def observe(self, rec: UsageRecord, model: str, queue_s: float, upstream_s: float) -> None:
        """Count one finished request. ``queue_s`` < 0: it never reached admission;
        ``upstream_s`` 0: it never reached Groq."""
        team, label = rec.team, model or "none"
        key = (team, label, rec.status)
        self.requests[key] = self.requests.get(key, 0) + 1
        if rec.prompt_tokens:
            tk = (team, label, "prompt")
            self.tokens[tk] = self.tokens.get(tk, 0) + rec.prompt_tokens
        if rec.completion_tokens:
            tk = (team, label, "completion")
            self.tokens[tk] = self.tokens.get(tk, 0) + rec.completion_tokens
        if rec.cost_pusd:
            self.spend_pusd[team] = self.spend_pusd.get(team, 0) + rec.cost_pusd
        if rec.refusal:
            rk = (team, rec.refusal)
            self.refusals[rk] = self.refusals.get(rk, 0) + 1
        if queue_s >= 0:
            hist = self.queue_wait.get(team)
            if hist is None:
                hist = self.queue_wait[team] = Histogram(QUEUE_BUCKETS)
            hist.observe(queue_s)
        if upstream_s > 0:
            hist = self.upstream_latency.get(label)
            if hist is None:
                hist = self.upstream_latency[label] = Histogram(UPSTREAM_BUCKETS)
            hist.observe(upstream_s)
            overhead = rec.latency_ms / 1000 - upstream_s - max(queue_s, 0.0)
            self.overhead.observe(max(overhead, 0.0))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: Iterable[object]) -> str:
    pairs = ",".join(f'{n}="{_escape(str(v))}"' for n, v in zip(names, values, strict=True))
    return "{" + pairs + "}" if pairs else ""


def _num(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if value == float("inf"):
        return "+Inf"
    return repr(float(value))


class _Page:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, names: Sequence[str], values: Iterable[object], v: float) -> None:
        self.lines.append(f"{name}{_labels(names, values)} {_num(v)}")

    def histogram(
        self, name: str, help_text: str, label: str | None, hists: dict[str, Histogram]
    ) -> None:
        self.family(name, "histogram", help_text)
        for value, h in sorted(hists.items()):
            names = (label, "le") if label else ("le",)
            base = (value,) if label else ()
            cumulative = 0
            for bound, n in zip([*h.bounds, float("inf")], h.counts, strict=True):
                cumulative += n
                self.sample(f"{name}_bucket", names, (*base, _num(bound)), cumulative)
            short = names[:-1]
            self.sample(f"{name}_sum", short, base, h.total)
            self.sample(f"{name}_count", short, base, h.count)


def render_metrics(m: Metrics, gw: Gateway | None = None) -> str:
    """The Prometheus text exposition of ``m`` and, with ``gw``, the gateway's gauges."""
    page = _Page()
    page.family("teamgate_requests_total", "counter", "Requests by team, model and HTTP status.")
    for (team, model, status), n in sorted(m.requests.items()):
        page.sample(
            "teamgate_requests_total", ("team", "model", "status"), (team, model, status), n
        )
    page.family("teamgate_tokens_total", "counter", "Tokens by team, model and kind.")
    for (team, model, kind), n in sorted(m.tokens.items()):
        page.sample("teamgate_tokens_total", ("team", "model", "kind"), (team, model, kind), n)
    page.family("teamgate_spend_picodollars_total", "counter", "Cost charged, in picodollars.")
    for team, n in sorted(m.spend_pusd.items()):
        page.sample("teamgate_spend_picodollars_total", ("team",), (team,), n)
    page.family("teamgate_refusals_total", "counter", "Requests teamgate refused, by reason.")
    for (team, reason), n in sorted(m.refusals.items()):
        page.sample("teamgate_refusals_total", ("team", "reason"), (team, reason), n)
    page.histogram(
        "teamgate_queue_wait_seconds",
        "Time waiting for rate limits and budget before forwarding.",
        "team",
        m.queue_wait,
    )
    page.histogram(
        "teamgate_upstream_latency_seconds",
        "Time spent waiting on Groq (response and body).",
        "model",
        m.upstream_latency,
    )
    page.histogram(
        "teamgate_overhead_seconds",
        "teamgate's own time per forwarded request (total minus queue and upstream).",
        None,
        {"": m.overhead},
    )
    if gw is not None:
        _gateway_gauges(page, gw)
    return "\n".join(page.lines) + "\n"


def _gateway_gauges(page: _Page, gw: Gateway) -> None:
    snapshot = gw.budget.snapshot() if hasattr(gw, "budget") else []
    page.family("teamgate_spend_month_usd", "gauge", "Settled spend this budget month, USD.")
    teams = [s for s in snapshot if s.scope.startswith("team:")]
    narrow = [s for s in snapshot if s.scope.startswith(("env:", "key:"))]
    for s in teams:
        page.sample("teamgate_spend_month_usd", ("team",), (s.team,), s.settled_pico / PICO_PER_USD)
    page.family(
        "teamgate_budget_remaining_usd",
        "gauge",
        "Monthly budget left (budget - settled - reserved), USD; scope org is the org's.",
    )
    for s in (*teams, *(s for s in snapshot if s.scope == "org")):
        if s.budget_pico is None:
            continue
        left = max(0, s.budget_pico - s.settled_pico - s.reserved_pico) / PICO_PER_USD
        scope = "org" if s.team is None else "team"
        page.sample("teamgate_budget_remaining_usd", ("scope", "team"), (scope, s.team or ""), left)
    page.family(
        "teamgate_sub_budget_spend_month_usd",
        "gauge",
        "Settled spend this budget month of each environment and key with a budget, USD.",
    )
    for s in narrow:
        page.sample(
            "teamgate_sub_budget_spend_month_usd",
            ("scope", "team"),
            (s.scope, s.team or ""),
            s.settled_pico / PICO_PER_USD,
        )
    page.family(
        "teamgate_sub_budget_remaining_usd",
        "gauge",
        "Budget left (budget - settled - reserved) of each environment and key with one, USD.",
    )
    for s in narrow:
        left = max(0, (s.budget_pico or 0) - s.settled_pico - s.reserved_pico) / PICO_PER_USD
        page.sample(
            "teamgate_sub_budget_remaining_usd", ("scope", "team"), (s.scope, s.team or ""), left
        )
    page.family("teamgate_queue_depth", "gauge", "Requests waiting in a team's queue now.")
    for team in sorted(gw.settings.teams):
        page.sample("teamgate_queue_depth", ("team",), (team,), gw.limiter.queued(team))
    page.family(
        "teamgate_upstream_key_requests_total", "counter", "Requests sent with each upstream key."
    )
    keys = [(p.project, k) for p in gw.projects.values() for k in p.keys]
    for project, k in keys:
        page.sample(
            "teamgate_upstream_key_requests_total",
            ("project", "key"),
            (project, k.name),
            k.requests,
        )
    page.family("teamgate_upstream_key_failures_total", "counter", "401s from Groq per key.")
    for project, k in keys:
        page.sample(
            "teamgate_upstream_key_failures_total",
            ("project", "key"),
            (project, k.name),
            k.failures,
        )
    page.family("teamgate_upstream_key_state", "gauge", "1 for each key's current state.")
    for project, k in keys:
        page.sample(
            "teamgate_upstream_key_state",
            ("project", "key", "state"),
            (project, k.name, k.state),
            1,
        )
    ledger = getattr(gw, "ledger", None)
    if ledger is not None:
        page.family("teamgate_ledger_pending_records", "gauge", "Records not yet stored.")
        page.sample("teamgate_ledger_pending_records", (), (), ledger.pending)
