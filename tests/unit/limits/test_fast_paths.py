"""The limiter's fast paths decide exactly as the plain code they shortcut."""

from __future__ import annotations

import random

from teamgate.config.schema import Limits, OrgConfig, Settings, TeamConfig
from teamgate.limits.counters import Decision, RateCheck, SlotHandle
from teamgate.limits.fast_admit import FastPlan
from teamgate.limits.gcra import gcra_check
from teamgate.limits.memory import MemoryCounters
from teamgate.limits.plan import PlanCache, build_plan


def settings(rpm: int = 60) -> Settings:
    team = TeamConfig(
        "chatbot",
        ("m", "n"),
        4096,
        limits=Limits(rpm=rpm, tpm=10000, rpd=1000, tpd=10**6, concurrency=4),
        model_limits={"m": Limits(tpm=5000)},
    )
    org = OrgConfig(limits=Limits(rpm=100, tpm=20000), model_limits={"n": Limits(rpd=50)})
    return Settings(teams={"chatbot": team}, org=org)


def test_plan_cache_equals_build_plan_for_any_token_count() -> None:
    cache = PlanCache()
    first = settings()
    for tokens in (2000, 1, 0, -5, 7, 2000, 10**9):
        for team, model in (("chatbot", "m"), ("chatbot", "n"), ("nobody", "m")):
            assert cache.plan(first, team, model, tokens) == build_plan(first, team, model, tokens)
    reloaded = settings(rpm=5)
    assert cache.plan(reloaded, "chatbot", "m", 10) == build_plan(reloaded, "chatbot", "m", 10)
    assert cache.plan(reloaded, "chatbot", "m", 10).checks[0].check.limit == 5


def reference_acquire(tats: dict[str, float], checks: list[RateCheck], now: float) -> Decision:
    """MemoryCounters.acquire_now as it was: one gcra_check per check."""
    results = [gcra_check(tats.get(c.key, now), now, c.cost, c.limit, c.period) for c in checks]
    blocking = tuple(i for i, r in enumerate(results) if not r.allowed)
    if not blocking:
        for check, result in zip(checks, results, strict=True):
            tats[check.key] = result.new_tat
        return Decision(True, 0.0, (), 0, tuple(r.new_tat for r in results))
    return Decision(
        False,
        max(results[i].retry_after for i in blocking),
        blocking,
        results[blocking[0]].remaining,
        tuple(tats.get(c.key, now) for c in checks),
    )


def test_memory_acquire_fast_path_decides_as_gcra_check() -> None:
    rng = random.Random(8)
    counters = MemoryCounters()
    tats: dict[str, float] = {}
    now = 1_700_000_000.0
    allowed = refused = 0
    for _ in range(5000):
        now += rng.choice((0.0, 0.001, 0.3, 2.0))
        checks = [
            RateCheck("team:a:rpm", 20, 60.0, 1),
            RateCheck("team:a:tpm", 3000, 60.0, rng.choice((0, 1, 150, 900, 3001))),
            RateCheck("org:rpd", 500, 86400.0, 1),
        ]
        got = counters.acquire_now(checks, now)
        want = reference_acquire(tats, checks, now)
        assert got == want
        allowed += got.allowed
        refused += not got.allowed
    assert allowed > 100 and refused > 100  # both paths were exercised


def test_fast_paths_are_protocol_methods_not_capability_checks() -> None:
    """Every backend implements the synchronous ``*_now`` methods (Redis answers None);
    limits/ and budget/ never test a backend's exact type or probe it with getattr."""
    import re
    from pathlib import Path

    import teamgate
    from teamgate.budget.counters import MemoryBudgetCounters
    from teamgate.shared_redis.budget import RedisBudgetCounters
    from teamgate.shared_redis.budget_failover import FailoverBudgetCounters
    from teamgate.shared_redis.limits import RedisCounters
    from teamgate.shared_redis.limits_failover import FailoverCounters

    for backend in (MemoryCounters, RedisCounters, FailoverCounters):
        for name in ("try_admit_now", "refund_now", "peek_now", "release_slot_now", "suspends"):
            assert hasattr(backend, name), (backend, name)
    for budget_backend in (MemoryBudgetCounters, RedisBudgetCounters, FailoverBudgetCounters):
        for name in ("reserve_now", "settle_now"):
            assert hasattr(budget_backend, name), (budget_backend, name)
    assert MemoryCounters.suspends is False and RedisCounters.suspends is True
    root = Path(teamgate.__file__).parent
    for folder in ("limits", "budget"):
        for source in (root / folder).glob("*.py"):
            text = source.read_text()
            assert not re.search(r"type\([^)]*\) is |getattr\(", text), source


def test_try_admit_now_hands_out_a_handle_per_slot_or_takes_nothing() -> None:
    """Admitted: one handle per slot of the plan, each freeing its slot; refused by a rate
    check after the slots were free: no handle, no slot kept."""
    fast = FastPlan.of(PlanCache().plan(settings(), "chatbot", "m", 1))
    counters = MemoryCounters()
    held: list[SlotHandle] = []
    assert counters.try_admit_now(fast, 100, 0.0, held) is not None
    assert [s.key for s in held] == [s.key for s in fast.slots] == ["team:chatbot:concurrency"]
    assert counters.slots_taken("team:chatbot:concurrency") == 1
    refused: list[SlotHandle] = []
    assert counters.try_admit_now(fast, 10**6, 0.0, refused) is None  # over the TPM
    assert refused == [] and counters.slots_taken("team:chatbot:concurrency") == 1
    for slot in held:
        assert counters.release_slot_now(slot)
    assert counters.slots_taken("team:chatbot:concurrency") == 0
