"""Sub-budgets: a request is reserved against its key, environment, team and the org at
once; the first scope that cannot take it refuses it, by name; every scope is loaded
from the ledger, settled, reported to the alert hooks and shown."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest

from teamgate.auth.keys import ROTATED_MARK as KEYS_ROTATED_MARK
from teamgate.budget import BudgetBook, MemoryBudgetCounters, Payer
from teamgate.budget.counters import BudgetCounters
from teamgate.budget.scopes import ROTATED_MARK, settled_by_scope
from teamgate.config.schema import EnvironmentConfig, Settings
from teamgate.http.errors import BudgetExceeded
from teamgate.ledger.summary import UsageGroup

from .conftest import FakeClock, make_settings

CENT = 10**10
KEY = "chatbot-staging-batch"


def settings(
    team: Decimal | None = Decimal("10"),
    staging: Decimal | None = Decimal("1"),
    org: Decimal | None = Decimal("100"),
) -> Settings:
    base = make_settings({"chatbot": team}, org)
    envs = {
        "prod": EnvironmentConfig("prod", ()),
        "staging": EnvironmentConfig("staging", (), monthly_budget_usd=staging),
    }
    chatbot = dataclasses.replace(base.teams["chatbot"], environments=envs)
    return dataclasses.replace(base, teams={"chatbot": chatbot})


def payer(key_budget: int | None = 50 * CENT, env: str = "staging") -> Payer:
    return Payer("chatbot", env, KEY, key_budget)


class Ledger:
    def __init__(self, groups: list[UsageGroup]) -> None:
        self.groups = groups

    async def usage_summary(
        self, start: float, end: float, group_by: Sequence[str] = ()
    ) -> list[UsageGroup]:
        return self.groups


def group(env: str, key: str, cost: int) -> UsageGroup:
    return UsageGroup({"team": "chatbot", "environment": env, "key": key}, 1, cost_pusd=cost)


def test_the_rotation_mark_is_the_keys_modules() -> None:
    assert ROTATED_MARK == KEYS_ROTATED_MARK


def test_ledger_sums_become_every_scopes_spend() -> None:
    groups = [
        group("staging", KEY, 5),
        group("staging", KEY + "@rotated-20261101T000000Z", 7),  # the same key's budget
        group("staging", "chatbot-staging-web", 11),
        group("prod", "chatbot-prod-web", 13),
    ]
    assert settled_by_scope(groups) == {
        "org": 36,
        "team:chatbot": 36,
        "env:chatbot/staging": 23,
        "env:chatbot/prod": 13,
        f"key:{KEY}": 12,
        "key:chatbot-staging-web": 11,
        "key:chatbot-prod-web": 13,
    }


# scope that refuses -> (its reason, the message's opening, budgets, the month's spend):
# each time a 6-cent worst case fits every narrower scope and not this one.
REFUSALS: dict[str, tuple[str, str, dict[str, Any], list[UsageGroup]]] = {
    "key": ("key_budget", f"Key `{KEY}`'s monthly budget", {}, [group("staging", KEY, 45 * CENT)]),
    "env:chatbot/staging": (
        "environment_budget",
        "Environment `chatbot/staging`'s monthly budget",
        {},
        [group("staging", "chatbot-staging-web", 95 * CENT)],
    ),
    "team:chatbot": (
        "team_budget",
        "Team `chatbot`'s monthly budget",
        {"team": Decimal("0.1")},
        [group("prod", "chatbot-prod-web", 8 * CENT)],
    ),
    "org": (
        "org_budget",
        "The organization's monthly budget",
        {"org": Decimal("0.1")},
        [group("prod", "chatbot-prod-web", 8 * CENT)],
    ),
}


@pytest.mark.parametrize("scope", list(REFUSALS))
async def test_the_narrowest_scope_that_cannot_take_it_refuses_by_name(scope: str) -> None:
    reason, opening, budgets, spend = REFUSALS[scope]
    refused: list[tuple[Any, ...]] = []
    book = BudgetBook(
        settings(**budgets), clock=FakeClock(), on_refused=lambda *a: refused.append(a)
    )
    await book.load(Ledger(spend))
    with pytest.raises(BudgetExceeded) as caught:
        await book.reserve(payer(), 6 * CENT)
    err = caught.value
    assert (err.reason, err.headers["x-teamgate-refusal"]) == (reason, reason)
    assert err.message.startswith(opening), err.message
    (hook,) = refused
    assert hook[0] == (f"key:{KEY}" if scope == "key" else scope)
    assert hook[4] == 6 * CENT  # the worst case that did not fit
    # Nothing was held anywhere.
    assert all(s.reserved_pico == 0 for s in book.scopes_of(payer()))


async def test_available_is_the_tightest_scopes_and_remaining_too() -> None:
    book = BudgetBook(settings(), clock=FakeClock())
    await book.load(Ledger([group("staging", KEY, 30 * CENT), group("staging", "x", 60 * CENT)]))
    # left: key 50-30 = 20 cents, staging 100-90 = 10 cents, team 910, org 9910
    assert book.remaining_pico(payer()) == 10 * CENT
    assert book.remaining_pico(payer(env="prod")) == 20 * CENT  # the key's own is tighter
    assert book.remaining_pico(Payer("chatbot")) == 910 * CENT
    with pytest.raises(BudgetExceeded) as caught:
        await book.reserve(payer(), 11 * CENT)
    assert caught.value.available_pusd == 10 * CENT


async def test_every_scope_is_held_settled_and_released_together() -> None:
    counters = MemoryBudgetCounters()
    book = BudgetBook(settings(), counters, clock=FakeClock())
    r1 = await book.reserve(payer(), 10 * CENT)
    r2 = await book.reserve(payer(), 10 * CENT)
    held = {s.scope: s.reserved_pico for s in book.scopes_of(payer())}
    assert held == {
        f"key:{KEY}": 20 * CENT,
        "env:chatbot/staging": 20 * CENT,
        "team:chatbot": 20 * CENT,
        "org": 20 * CENT,
    }
    await r1.settle(7 * CENT)
    await r2.release()
    state = {s.scope: (s.settled_pico, s.reserved_pico) for s in book.scopes_of(payer())}
    assert set(state.values()) == {(7 * CENT, 0)}
    # A key without its own budget is not a scope; its environment still is.
    assert [s.scope for s in book.scopes_of(payer(None))] == [
        "env:chatbot/staging",
        "team:chatbot",
        "org",
    ]


async def test_alert_hooks_hear_of_every_budgeted_scope() -> None:
    heard: list[tuple[str, int, int]] = []
    book = BudgetBook(
        settings(staging=Decimal("1"), team=None),
        clock=FakeClock(),
        on_settled=lambda scope, period, spent, budget: heard.append((scope, spent, budget)),
    )
    r = await book.reserve(payer(), 10 * CENT)
    await r.settle(8 * CENT)
    assert heard == [
        (f"key:{KEY}", 8 * CENT, 50 * CENT),
        ("env:chatbot/staging", 8 * CENT, 100 * CENT),
        ("org", 8 * CENT, 100 * 10**12),
    ]


async def test_snapshot_lists_sub_budgets_after_teams_and_org() -> None:
    book = BudgetBook(settings(), clock=FakeClock())
    await book.load(Ledger([group("staging", KEY, 3 * CENT)]))
    r = await book.reserve(payer(), 1 * CENT)
    rows = [(s.scope, s.team, s.settled_pico, s.budget_pico) for s in book.snapshot()]
    assert rows == [
        ("team:chatbot", "chatbot", 3 * CENT, 10 * 10**12),
        ("org", None, 3 * CENT, 100 * 10**12),
        ("env:chatbot/staging", "chatbot", 3 * CENT, 10**12),
        (f"key:{KEY}", "chatbot", 3 * CENT, 50 * CENT),
    ]
    await r.release()


async def test_a_reload_that_adds_a_sub_budget_counts_the_months_spend() -> None:
    book = BudgetBook(settings(staging=None), clock=FakeClock())
    await book.load(Ledger([group("staging", "x", 95 * CENT)]))
    r = await book.reserve(payer(None), 10 * CENT)  # no sub-budget yet: admitted
    await r.settle(4 * CENT)
    book.reconfigure(settings(staging=Decimal("1")))
    with pytest.raises(BudgetExceeded) as caught:
        await book.reserve(payer(None), 2 * CENT)  # $0.99 of $1 spent
    assert caught.value.reason == "environment_budget"


async def test_200_concurrent_reservations_never_overshoot_any_scope() -> None:
    counters: BudgetCounters = MemoryBudgetCounters()
    book = BudgetBook(settings(staging=Decimal("0.4")), counters, clock=FakeClock())
    spent: dict[str, int] = {"key": 0, "env": 0}

    async def one(i: int) -> None:
        who = payer(10 * CENT) if i % 2 else payer(None)
        try:
            r = await book.reserve(who, CENT, max_wait_s=60)
        except BudgetExceeded:
            return
        await asyncio.sleep(0)
        await r.settle(CENT - i % 3)
        spent["env"] += CENT - i % 3
        if i % 2:
            spent["key"] += CENT - i % 3

    await asyncio.gather(*(one(i) for i in range(200)))
    assert 0 < spent["key"] <= 10 * CENT
    assert 0 < spent["env"] <= 40 * CENT
    assert spent["env"] > 40 * CENT - CENT  # and never under-used by waiting
