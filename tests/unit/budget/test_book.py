"""BudgetBook: refusals, waiting, reconfigure, month rollover, loading, seeing it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from decimal import Decimal
from typing import NamedTuple

import orjson
import pytest

from teamgate.budget import BudgetBook, MemoryBudgetCounters, ReservationAbandoned
from teamgate.budget.counters import BudgetScope, ReserveResult
from teamgate.config.errors import ConfigError
from teamgate.config.schema import Settings, TeamConfig
from teamgate.http.errors import BudgetExceeded
from teamgate.ledger.summary import UsageGroup

from .conftest import DEC_1_2026_UTC, FakeClock, make_settings

CENT = 10**10


class SpendTotal(NamedTuple):
    """A team's spend in a month, as the fake ledger sums it."""

    team: str
    period: str
    cost_pusd: int
    requests: int


USD = 10**12


class FakeSpendStore:
    def __init__(self, totals: list[SpendTotal]) -> None:
        self.totals = totals
        self.asked: list[tuple[float, float]] = []

    async def usage_summary(
        self, start: float, end: float, group_by: Sequence[str] = ()
    ) -> list[UsageGroup]:
        assert tuple(group_by) == ("team", "environment", "key")
        self.asked.append((start, end))
        return [
            UsageGroup({"team": t.team}, t.requests, cost_pusd=t.cost_pusd) for t in self.totals
        ]


async def wait_for_waiters(book: BudgetBook, n: int) -> None:
    while book.waiters < n:
        await asyncio.sleep(0)


async def test_refusal_names_team_budget_spend_and_reset() -> None:
    book = BudgetBook(make_settings({"chatbot": Decimal("200")}), clock=FakeClock())
    store = FakeSpendStore([SpendTotal("chatbot", "2026-11", 19998 * CENT, 10)])
    await book.load(store)
    assert store.asked == [(1793491200.0, DEC_1_2026_UTC)]
    with pytest.raises(BudgetExceeded) as caught:
        await book.reserve("chatbot", 5 * CENT)
    err = caught.value
    assert err.status == 429
    assert err.headers["x-should-retry"] == "false"
    assert orjson.loads(err.body())["error"]["code"] == "budget_exceeded"
    assert orjson.loads(err.body())["error"]["type"] == "insufficient_quota"
    assert err.message == (
        "Team `chatbot`'s monthly budget cannot cover this request's worst case: it may "
        "cost up to $0.05 (every prompt token and all of its max_completion_tokens, or the "
        "team's cap when it sent none), and $0.02 is left of $200.00 this month (2026-11; "
        "$199.98 spent, 99.9% used). The budget resets on 2026-12-01 00:00 UTC."
    )
    assert (err.reason, err.available_pusd, err.worst_pusd) == ("team_budget", 2 * CENT, 5 * CENT)
    assert err.headers["x-teamgate-refusal"] == "team_budget"
    # A request that still fits is admitted.
    r = await book.reserve("chatbot", 2 * CENT)
    await r.settle(2 * CENT)
    with pytest.raises(BudgetExceeded) as caught:
        await book.reserve("chatbot", 1)
    assert caught.value.message.startswith(
        "Team `chatbot` has reached its monthly budget: spent $200.00 of $200.00 this month "
        "(2026-11); the budget resets"
    )


async def test_org_refusal_is_auto_pause() -> None:
    settings = make_settings({"a": None, "b": Decimal("50")}, org_budget=Decimal("10"))
    book = BudgetBook(settings, clock=FakeClock())
    await book.load(FakeSpendStore([SpendTotal("a", "2026-11", 10 * USD, 3)]))
    with pytest.raises(BudgetExceeded) as caught:
        await book.reserve("b", CENT)
    assert caught.value.message == (
        "The organization has reached its monthly budget (auto-pause): spent $10.00 of "
        "$10.00 this month (2026-11); the budget resets on 2026-12-01 00:00 UTC."
    )
    assert caught.value.headers["x-should-retry"] == "false"


async def test_worst_case_larger_than_the_whole_budget_is_refused() -> None:
    book = BudgetBook(make_settings({"t": Decimal("1")}), clock=FakeClock())
    worst_case = r"worst case: it may cost up to \$2.00.*\$1.00 is left of \$1.00"
    with pytest.raises(BudgetExceeded, match=worst_case):
        await book.reserve("t", 2 * USD)


async def test_waits_for_an_open_reservation_then_proceeds() -> None:
    book = BudgetBook(make_settings({"t": Decimal("0.015")}), clock=FakeClock())
    first = await book.reserve("t", CENT)
    second = asyncio.create_task(book.reserve("t", CENT))
    await wait_for_waiters(book, 1)
    assert not second.done()
    await first.settle(CENT // 4)
    r2 = await second
    assert r2.amount_pico == CENT
    assert book.remaining_pico("t") == 15 * CENT // 10 - CENT // 4 - CENT


async def test_release_wakes_a_waiter() -> None:
    book = BudgetBook(make_settings({"t": Decimal("0.01")}), clock=FakeClock())
    first = await book.reserve("t", CENT)
    second = asyncio.create_task(book.reserve("t", CENT))
    await wait_for_waiters(book, 1)
    await first.release()
    await (await second).settle(CENT)
    assert book.remaining_pico("t") == 0


async def test_waiter_refused_when_the_settle_leaves_no_room() -> None:
    book = BudgetBook(make_settings({"t": Decimal("0.015")}), clock=FakeClock())
    first = await book.reserve("t", CENT)
    second = asyncio.create_task(book.reserve("t", CENT))
    await wait_for_waiters(book, 1)
    await first.settle(CENT)  # settled 0.01 + 0.01 > 0.015: now a plain refusal
    with pytest.raises(BudgetExceeded) as caught:
        await second
    assert caught.value.headers["x-should-retry"] == "false"


async def test_wait_is_bounded_and_says_retry() -> None:
    book = BudgetBook(make_settings({"t": Decimal("0.015")}), clock=FakeClock())
    held = await book.reserve("t", CENT)
    with pytest.raises(BudgetExceeded) as caught:
        await book.reserve("t", CENT, max_wait_s=0.02)
    assert caught.value.headers["x-should-retry"] == "true"
    assert "held by requests in flight" in caught.value.message
    assert held.open
    assert book.waiters == 0


async def test_client_gone_abandons_the_wait_without_reserving() -> None:
    book = BudgetBook(make_settings({"t": Decimal("0.015")}), clock=FakeClock())
    await book.reserve("t", CENT)
    gone = asyncio.Event()
    waiting = asyncio.create_task(book.reserve("t", CENT, client_gone=gone))
    await wait_for_waiters(book, 1)
    gone.set()
    with pytest.raises(ReservationAbandoned):
        await waiting
    (status,) = [s for s in book.snapshot() if s.team == "t"]
    assert status.reserved_pico == CENT


async def test_reconfigure_raising_the_budget_admits_waiting_requests() -> None:
    settings = make_settings({"t": Decimal("0.015")})
    book = BudgetBook(settings, clock=FakeClock())
    held = await book.reserve("t", CENT)
    waiting = [asyncio.create_task(book.reserve("t", CENT)) for _ in range(2)]
    await wait_for_waiters(book, 2)
    book.reconfigure(make_settings({"t": Decimal("0.03")}))
    admitted = await asyncio.gather(*waiting)
    assert held.open  # nobody settled: the new budget alone let them in
    assert [r.amount_pico for r in admitted] == [CENT, CENT]
    assert book.budget_pico("t") == 3 * CENT
    (status,) = [s for s in book.snapshot() if s.team == "t"]
    assert status.reserved_pico == 3 * CENT  # counters survived the swap


async def test_reconfigure_raises_a_refused_teams_budget_at_once() -> None:
    book = BudgetBook(make_settings({"t": Decimal("1")}), clock=FakeClock())
    await (await book.reserve("t", USD)).settle(USD)
    with pytest.raises(BudgetExceeded):
        await book.reserve("t", CENT)
    book.reconfigure(make_settings({"t": Decimal("2")}))
    await book.reserve("t", CENT)


async def test_month_rollover_resets_spend_without_restart() -> None:
    clock = FakeClock(DEC_1_2026_UTC - 60)
    book = BudgetBook(make_settings({"t": Decimal("1")}, org_budget=Decimal("5")), clock=clock)
    await (await book.reserve("t", USD)).settle(USD)
    late_november = await book.reserve("t", 0)
    with pytest.raises(BudgetExceeded, match=r"\(2026-11\).*resets on 2026-12-01 00:00 UTC"):
        await book.reserve("t", CENT)
    assert book.remaining_pico("t") == 0

    clock.now = DEC_1_2026_UTC
    assert book.period().key == "2026-12"
    assert book.remaining_pico("t") == USD
    r = await book.reserve("t", 30 * CENT)
    await r.settle(20 * CENT)
    await late_november.settle(7 * CENT)  # an old-month request settles in its own month
    status = {s.scope: s for s in book.snapshot()}
    assert status["team:t"].period == "2026-12"
    assert status["team:t"].settled_pico == 20 * CENT
    assert status["org"].settled_pico == 20 * CENT
    assert book.remaining_pico("t") == 80 * CENT


async def test_month_rollover_in_org_timezone() -> None:
    clock = FakeClock(DEC_1_2026_UTC - 3600)  # already December in Berlin (UTC+1)
    settings = make_settings({"t": Decimal("1")}, timezone="Europe/Berlin")
    book = BudgetBook(settings, clock=clock)
    assert book.period().key == "2026-12"
    assert book.period().reset_text() == "2027-01-01 00:00 Europe/Berlin"


async def test_settle_is_idempotent_and_release_after_settle_is_a_no_op() -> None:
    book = BudgetBook(make_settings({"t": Decimal("1")}), clock=FakeClock())
    r = await book.reserve("t", 10 * CENT)
    await r.settle(3 * CENT)
    await r.settle(3 * CENT)
    await r.release()
    assert not r.open
    assert book.remaining_pico("t") == 97 * CENT


async def test_estimated_cost_above_the_reservation_is_settled_anyway() -> None:
    book = BudgetBook(make_settings({"t": Decimal("1")}), clock=FakeClock())
    r = await book.reserve("t", 10 * CENT)
    await r.settle(12 * CENT)
    (status,) = [s for s in book.snapshot() if s.team == "t"]
    assert (status.settled_pico, status.reserved_pico) == (12 * CENT, 0)


class NoReserveCounters(MemoryBudgetCounters):
    async def reserve(self, scopes: object, amount: int) -> ReserveResult:
        raise AssertionError("no budget applies: the counters must not be asked")


async def test_no_budget_anywhere_is_a_quick_no_op_but_spend_is_still_counted() -> None:
    book = BudgetBook(make_settings({"t": None}), NoReserveCounters(), clock=FakeClock())
    r = await book.reserve("t", 10 * USD)
    assert r.amount_pico == 0
    assert book.remaining_pico("t") is None
    await r.settle(3 * CENT)
    status = {s.scope: s for s in book.snapshot()}
    assert status["team:t"].settled_pico == 3 * CENT
    assert status["team:t"].percent is None
    assert status["org"].settled_pico == 3 * CENT


async def test_remaining_is_the_tighter_of_team_and_org() -> None:
    settings = make_settings({"a": Decimal("10"), "b": None}, org_budget=Decimal("3"))
    book = BudgetBook(settings, clock=FakeClock())
    r = await book.reserve("a", USD)
    assert book.remaining_pico("a") == 2 * USD
    assert book.remaining_pico("b") == 2 * USD
    await r.settle(USD // 2)
    assert book.remaining_pico("a") == 25 * USD // 10
    assert book.remaining_pico("unknown-team") == 25 * USD // 10


async def test_load_and_snapshot_include_teams_gone_from_config() -> None:
    settings = make_settings({"a": Decimal("4"), "b": None}, org_budget=Decimal("10"))
    book = BudgetBook(settings, clock=FakeClock())
    await book.load(
        FakeSpendStore(
            [SpendTotal("a", "2026-11", USD, 2), SpendTotal("legacy", "2026-11", 2 * USD, 1)]
        )
    )
    rows = book.snapshot()
    assert [(s.scope, s.settled_pico, s.budget_pico) for s in rows] == [
        ("team:a", USD, 4 * USD),
        ("team:b", 0, None),
        ("team:legacy", 2 * USD, None),
        ("org", 3 * USD, 10 * USD),
    ]
    assert rows[0].percent == 25.0
    assert rows[-1].percent == 30.0


async def test_on_settled_reports_each_budgeted_scope() -> None:
    seen: list[tuple[str, str, int, int]] = []
    settings = make_settings({"a": Decimal("4"), "b": None}, org_budget=Decimal("10"))
    book = BudgetBook(settings, clock=FakeClock(), on_settled=lambda *args: seen.append(args))
    await (await book.reserve("a", USD)).settle(USD)
    await (await book.reserve("b", USD)).settle(2 * USD)
    assert seen == [
        ("team:a", "2026-11", USD, 4 * USD),
        ("org", "2026-11", USD, 10 * USD),
        ("org", "2026-11", 3 * USD, 10 * USD),
    ]


async def test_a_failing_hook_does_not_break_settle() -> None:
    def broken(scope: str, period: str, spent: int, budget: int) -> None:
        raise RuntimeError("boom")

    book = BudgetBook(make_settings({"a": Decimal("4")}), clock=FakeClock(), on_settled=broken)
    await (await book.reserve("a", USD)).settle(USD)
    assert book.remaining_pico("a") == 3 * USD


def test_budgets_with_sub_picodollar_digits_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"teams\.t\.monthly_budget_usd"):
        BudgetBook(make_settings({"t": Decimal("0.0000000000001")}))


async def test_memory_counters_refuse_before_wait_and_report_the_scope() -> None:
    c = MemoryBudgetCounters()
    team, org = BudgetScope("team:t:2026-11", 100), BudgetScope("org:2026-11", 150)
    assert (await c.reserve([team, org], 50)).outcome.value == "ok"
    await c.load_settled("org:2026-11", 100)
    # The team would only WAIT (0 + 60 fits, 50 reserved + 60 does not); the org refuses.
    result = await c.reserve([team, org], 60)
    assert (result.outcome.value, result.scope_key, result.settled) == (
        "refused",
        "org:2026-11",
        100,
    )
    assert await c.totals("team:t:2026-11") == (0, 50)
    assert await c.totals("org:2026-11") == (100, 50)


def test_settings_type_is_the_frozen_schema() -> None:
    assert isinstance(make_settings({}), Settings)


def test_hold_is_never_refused_and_settles_like_a_reservation() -> None:
    team = TeamConfig("chatbot", ("m",), 100, monthly_budget_usd=Decimal("1"))
    book = BudgetBook(Settings(teams={"chatbot": team}), clock=lambda: 1793491200.0)
    pico = 10**12

    async def scenario() -> tuple[int | None, int | None]:
        held = await book.hold("chatbot", 3 * pico)  # three times the budget: held anyway
        with pytest.raises(BudgetExceeded):
            await book.reserve("chatbot", 1, max_wait_s=0)
        full = book.remaining_pico("chatbot")
        await held.settle(pico // 4)
        return full, book.remaining_pico("chatbot")

    assert asyncio.run(scenario()) == (0, 3 * pico // 4)
