"""GCRA arithmetic, Groq's duration format, the memory backend and upstream feedback."""

from __future__ import annotations

import math

import pytest

from teamgate.limits.counters import RateCheck
from teamgate.limits.feedback import upstream_hold_s
from teamgate.limits.gcra import gcra_check, gcra_peek, gcra_refund
from teamgate.limits.headers import format_reset, parse_reset
from teamgate.limits.memory import MemoryCounters

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("tat", "cost", "limit", "period", "allowed", "new_tat", "retry", "remaining", "reset"),
    [
        # fresh key: a full burst is available
        (0.0, 1, 60, 60.0, True, NOW + 1, 0.0, 59, 1.0),
        (0.0, 60, 60, 60.0, True, NOW + 60, 0.0, 0, 60.0),
        # full: the next unit fits after exactly one emission interval
        (NOW + 60, 1, 60, 60.0, False, NOW + 60, 1.0, 0, 60.0),
        # half used
        (NOW + 30, 30, 60, 60.0, True, NOW + 60, 0.0, 0, 60.0),
        (NOW + 30, 31, 60, 60.0, False, NOW + 30, 1.0, 30, 30.0),
        # tokens: tpm 10000, 2000 per request, 4 already in
        (NOW + 48, 2000, 10000, 60.0, True, NOW + 60, 0.0, 0, 60.0),
        (NOW + 60, 2000, 10000, 60.0, False, NOW + 60, 12.0, 0, 60.0),
        # rpd 14400: one unit is 6 s
        (NOW + 86400, 1, 14400, 86400.0, False, NOW + 86400, 6.0, 0, 86400.0),
        # a TAT in the past is the same as now
        (NOW - 500, 1, 60, 60.0, True, NOW + 1, 0.0, 59, 1.0),
        # cost 0 always passes and changes nothing
        (NOW + 60, 0, 60, 60.0, True, NOW + 60, 0.0, 0, 60.0),
    ],
)
def test_gcra_check_table(
    tat: float,
    cost: int,
    limit: int,
    period: float,
    allowed: bool,
    new_tat: float,
    retry: float,
    remaining: int,
    reset: float,
) -> None:
    r = gcra_check(tat, NOW, cost, limit, period)
    assert r.allowed is allowed
    assert r.new_tat == pytest.approx(new_tat, abs=1e-6)
    assert r.retry_after == pytest.approx(retry, abs=1e-6)
    assert r.remaining == remaining
    assert r.reset_after == pytest.approx(reset, abs=1e-6)


def test_gcra_cost_above_limit_never_fits() -> None:
    r = gcra_check(0.0, NOW, 61, 60, 60.0)
    assert not r.allowed and math.isinf(r.retry_after)


def test_gcra_float_rounding_never_costs_a_unit() -> None:
    # 0.006 s per token is not exact in binary: 5 x 2000 tokens must still fit in tpm 10000
    tat = NOW
    for _ in range(5):
        r = gcra_check(tat, NOW, 2000, 10000, 60.0)
        assert r.allowed
        tat = r.new_tat
    refused = gcra_check(tat, NOW, 2000, 10000, 60.0)
    assert not refused.allowed
    # waiting exactly the announced retry-after is enough
    later = NOW + refused.retry_after
    assert gcra_check(tat, later, 2000, 10000, 60.0).allowed
    # ...and a hair less is not
    assert not gcra_check(tat, later - 0.001, 2000, 10000, 60.0).allowed


def test_gcra_exactness_over_a_long_saturated_run() -> None:
    # rpm 7 (T = 8.571... s): a saturated client gets exactly one request per T, forever
    tat, now, admitted = 0.0, NOW, 0
    for step in range(7000):
        now = NOW + step * (60.0 / 7)
        while (r := gcra_check(tat, now, 1, 7, 60.0)).allowed:
            tat = r.new_tat
            admitted += 1
    assert admitted == 7 + 6999  # the initial burst, then one per interval


@pytest.mark.parametrize(
    ("tat", "amount", "expected"),
    [
        (NOW + 60, 10, NOW + 50),
        (NOW + 5, 10, NOW),  # never below now
        (NOW - 5, 10, NOW - 5),  # nothing to refund
        (NOW + 60, 0, NOW + 60),
    ],
)
def test_gcra_refund_table(tat: float, amount: int, expected: float) -> None:
    assert gcra_refund(tat, NOW, amount, 60, 60.0) == pytest.approx(expected)


def test_gcra_peek_matches_check() -> None:
    assert gcra_peek(NOW + 15, NOW, 60, 60.0) == (45, 15.0)
    assert gcra_peek(0.0, NOW, 60, 60.0) == (60, 0.0)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (-3, "0s"),
        (0.001, "10ms"),
        (0.24, "240ms"),
        (0.999, "1s"),
        (1, "1s"),
        (1.2, "1.2s"),
        (7.66, "7.66s"),
        (7.661, "7.67s"),  # rounded up, never early
        (59.999, "1m0s"),
        (60, "1m0s"),
        (86.4, "1m26.4s"),
        (179.555, "2m59.56s"),
        (360, "6m0s"),
        (3600, "1h0m0s"),
        (86400, "24h0m0s"),
        (90061.5, "25h1m1.5s"),
    ],
)
def test_format_reset_table(seconds: float, text: str) -> None:
    assert format_reset(seconds) == text


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0s", 0.0),
        ("240ms", 0.24),
        ("7.66s", 7.66),
        ("2m59.56s", 179.56),
        ("6m0s", 360.0),
        ("1h0m0s", 3600.0),
        ("12", 12.0),
        ("", None),
        ("soon", None),
        ("5x", None),
    ],
)
def test_parse_reset_table(text: str, seconds: float | None) -> None:
    assert parse_reset(text) == (pytest.approx(seconds) if seconds is not None else None)


async def test_memory_acquire_is_all_or_nothing() -> None:
    c = MemoryCounters()
    team = RateCheck("team:a:rpm", 10, 60.0, 1)
    org = RateCheck("org:rpm", 2, 60.0, 1)
    assert (await c.acquire([team, org], NOW)).allowed
    assert (await c.acquire([team, org], NOW)).allowed
    refused = await c.acquire([team, org], NOW)
    assert not refused.allowed
    assert refused.blocking == (1,)
    assert refused.blocked_remaining == 0
    assert refused.retry_after == pytest.approx(30.0)
    # the team's counter was not charged by the refused request
    assert await c.peek("team:a:rpm", 10, 60.0, NOW) == (8, pytest.approx(12.0))


async def test_memory_retry_after_is_max_over_blockers() -> None:
    c = MemoryCounters()
    a = RateCheck("a", 1, 60.0, 1)  # one per 60 s
    b = RateCheck("b", 6, 60.0, 1)  # one per 10 s
    assert (await c.acquire([a, b], NOW)).allowed
    await c.acquire([RateCheck("b", 6, 60.0, 5)], NOW)
    refused = await c.acquire([a, b], NOW)
    assert refused.blocking == (0, 1)
    assert refused.retry_after == pytest.approx(60.0)
    assert (await c.acquire([a, b], NOW + refused.retry_after)).allowed


async def test_memory_refund_and_slots() -> None:
    c = MemoryCounters()
    await c.acquire([RateCheck("t", 10000, 60.0, 10000)], NOW)
    assert await c.refund("t", 10000, 60.0, 4000, NOW) == pytest.approx(NOW + 36.0)
    assert c.peek_now("t", 10000, 60.0, NOW)[0] == 4000
    assert await c.refund("unknown", 10, 60.0, 5, NOW) == NOW
    first = await c.try_take_slot("s", 2)
    second = await c.try_take_slot("s", 2)
    assert first is not None and second is not None
    assert not await c.try_take_slot("s", 2)
    await c.release_slot(first)
    assert c.slots_taken("s") == 1
    await c.release_slot(second)
    await c.release_slot(second)  # never below zero
    assert c.slots_taken("s") == 0


@pytest.mark.parametrize(
    ("headers", "hold"),
    [
        ({}, 0.0),
        ({"x-ratelimit-remaining-tokens": "5000", "x-ratelimit-reset-tokens": "7.66s"}, 0.0),
        # tokens exhausted: hold until 2 % of the limit is back (TPM 6000: 120 of 6000 used)
        (
            {
                "x-ratelimit-limit-tokens": "6000",
                "x-ratelimit-remaining-tokens": "0",
                "x-ratelimit-reset-tokens": "60s",
            },
            1.2,
        ),
        # below the 1 % margin counts as exhausted
        (
            {
                "X-RateLimit-Limit-Tokens": "6000",
                "X-RateLimit-Remaining-Tokens": "59",
                "X-RateLimit-Reset-Tokens": "5.941s",
            },
            0.061,
        ),
        # requests (RPD) exhausted: one request's worth
        (
            {
                "x-ratelimit-limit-requests": "14400",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": "24h0m0s",
            },
            6.0,
        ),
        # no limit header: the whole reset
        ({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "2.5s"}, 2.5),
    ],
)
def test_upstream_hold_table(headers: dict[str, str], hold: float) -> None:
    assert upstream_hold_s(headers) == pytest.approx(hold, abs=1e-3)
