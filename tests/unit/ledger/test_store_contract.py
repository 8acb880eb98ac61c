"""The Store contract: every backend of ``STORE_FACTORIES`` (tests/support) must pass it."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from teamgate.auth.keys import new_client_key, rotate_client_key
from teamgate.ledger.store import Store
from teamgate.ledger.upstream_records import (
    UpstreamKeyState,
    UpstreamKeyUsage,
    UpstreamUsageDelta,
)
from tests.support.ledger_records import make_key, make_record

T0 = 1_700_000_000.0

# --- client keys -------------------------------------------------------------------


async def test_add_get_list_key(store: Store) -> None:
    key = make_key("chatbot-prod-web", expires_at=T0 + 86400)
    await store.add_client_key(key)
    assert await store.get_client_key("chatbot-prod-web") == key
    assert await store.get_client_key("nobody") is None
    other = make_key("analytics-prod-batch")
    await store.add_client_key(other)
    assert await store.list_client_keys() == [other, key]  # by name


async def test_every_key_field_round_trips(store: Store) -> None:
    key = make_key(
        "a-b-c",
        key_hash="ab" * 32,
        fingerprint="tg_…Zz9q",
        created_at=T0 + 0.123456,
        expires_at=T0 + 1.5,
        last_used_at=None,
    )
    await store.add_client_key(key)
    assert await store.get_client_key("a-b-c") == key


@pytest.mark.parametrize("budget", [None, 0, 1, 25 * 10**12, 2**62])
async def test_a_keys_own_budget_round_trips_exactly(store: Store, budget: int | None) -> None:
    key = make_key("chatbot-staging-batch", budget_pusd=budget)
    await store.add_client_key(key)
    assert await store.get_client_key("chatbot-staging-batch") == key
    assert (await store.list_client_keys())[0].budget_pusd == budget


async def test_a_rotated_key_keeps_its_budget(store: Store) -> None:
    record, _ = new_client_key("chatbot", "staging", "batch", now=T0, budget_pusd=7 * 10**12)
    await store.add_client_key(record)
    done = await rotate_client_key(store, record.name, grace_s=60, now=T0 + 1)
    assert done is not None
    successor, _, old_name, _ = done
    assert successor.budget_pusd == 7 * 10**12
    assert (await store.get_client_key(record.name)) == successor
    old = await store.get_client_key(old_name)
    assert old is not None and old.budget_pusd == 7 * 10**12


async def test_live_name_is_unique(store: Store) -> None:
    await store.add_client_key(make_key("chatbot-prod-web"))
    with pytest.raises(KeyError):
        await store.add_client_key(make_key("chatbot-prod-web", key_hash="another"))
    # The failed add left nothing behind.
    assert len(await store.list_client_keys(include_revoked=True)) == 1


async def test_name_is_reusable_after_revocation(store: Store) -> None:
    old = make_key("chatbot-prod-web", key_hash="old")
    await store.add_client_key(old)
    assert await store.revoke_client_key("chatbot-prod-web", T0 + 10)
    new = make_key("chatbot-prod-web", key_hash="new", created_at=T0 + 20)
    await store.add_client_key(new)
    assert await store.get_client_key("chatbot-prod-web") == new
    assert await store.list_client_keys() == [new]
    listed = await store.list_client_keys(include_revoked=True)
    assert listed == [dataclasses.replace(old, revoked_at=T0 + 10), new]


async def test_name_of_an_expired_key_is_reusable(store: Store) -> None:
    old = make_key("chatbot-prod-web", key_hash="old", expires_at=T0 + 5)
    await store.add_client_key(old)
    # Not expired yet at the new key's creation: the name is taken.
    with pytest.raises(KeyError):
        await store.add_client_key(make_key("chatbot-prod-web", key_hash="new", created_at=T0 + 1))
    new = make_key("chatbot-prod-web", key_hash="new", created_at=T0 + 6)
    await store.add_client_key(new)
    assert await store.get_client_key("chatbot-prod-web") == new
    retired = await store.list_client_keys(include_revoked=True)
    assert retired[0] == dataclasses.replace(old, revoked_at=T0 + 5)
    assert not retired[0].usable(T0 + 6)


async def test_revoke(store: Store) -> None:
    key = make_key()
    await store.add_client_key(key)
    assert await store.revoke_client_key(key.name, T0 + 100)
    assert not await store.revoke_client_key(key.name, T0 + 200)  # already revoked
    assert not await store.revoke_client_key("no-such-key", T0)
    revoked = await store.get_client_key(key.name)
    assert revoked is not None and revoked.revoked_at == T0 + 100
    assert not revoked.usable(T0 + 100) and revoked.usable(T0 + 99)
    assert await store.list_client_keys() == []
    assert await store.list_client_keys(include_revoked=True) == [revoked]


async def test_rotation_sets_or_brings_forward_the_old_keys_expiry(store: Store) -> None:
    """The old key's grace end is set, or brought forward, never extended."""
    await store.add_client_key(make_key("a-b-c", expires_at=T0 + 50))
    assert await store.rotate_client_key(
        make_key("a-b-c", key_hash="h2"), old_name_after="a-b-c-old1", old_expires_at=T0 + 500
    )
    old = await store.get_client_key("a-b-c-old1")
    assert old is not None and old.expires_at == T0 + 50  # later: never extended
    assert await store.rotate_client_key(
        make_key("a-b-c", key_hash="h3"), old_name_after="a-b-c-old2", old_expires_at=T0 + 100
    )
    old = await store.get_client_key("a-b-c-old2")
    assert old is not None and old.expires_at == T0 + 100  # none before: set
    assert not await store.rotate_client_key(
        make_key("no-such-key"), old_name_after="x", old_expires_at=T0
    )


async def test_keys_version_changes_on_add_revoke_expire_only(store: Store) -> None:
    versions = [await store.client_keys_version()]

    async def changed() -> bool:
        versions.append(await store.client_keys_version())
        return versions[-1] != versions[-2]

    await store.add_client_key(make_key("a-b-c"))
    assert await changed()
    await store.touch_client_keys({"a-b-c": T0 + 1})
    assert not await changed()
    await store.rotate_client_key(
        make_key("a-b-c", key_hash="h2"), old_name_after="a-b-c-old", old_expires_at=T0 + 100
    )
    assert await changed()
    await store.revoke_client_key("a-b-c", T0 + 50)
    assert await changed()
    await store.revoke_client_key("a-b-c", T0 + 60)  # no such live key: nothing changed
    assert not await changed()
    await store.add_client_key(make_key("x-y-z"))
    assert await changed()
    with pytest.raises(KeyError):
        await store.add_client_key(make_key("x-y-z", key_hash="other"))
    assert not await changed()  # a refused add changes nothing


async def test_touch_client_keys_keeps_the_latest_time(store: Store) -> None:
    await store.add_client_key(make_key("a-b-c"))
    await store.add_client_key(make_key("d-e-f"))
    await store.touch_client_keys({})
    await store.touch_client_keys({"a-b-c": T0 + 10, "d-e-f": T0 + 5, "unknown": T0})
    await store.touch_client_keys({"a-b-c": T0 + 3})  # older: ignored
    a = await store.get_client_key("a-b-c")
    d = await store.get_client_key("d-e-f")
    assert a is not None and a.last_used_at == T0 + 10
    assert d is not None and d.last_used_at == T0 + 5


# --- usage ledger ---------------------------------------------------------------------


async def test_append_usage_round_trips_every_field(store: Store) -> None:
    records = [
        make_record(
            T0 + 0.000123,
            request_id="r1",
            groq_id="",
            model_requested="openai/gpt-oss-120b",
            model_served="openai/gpt-oss-120b",
            prompt_tokens=123_456,
            completion_tokens=7,
            cached_tokens=1024,
            cost_pusd=2**62 + 12345,  # large values survive exactly
            status=200,
            latency_ms=1234.5678,
            streamed=True,
            usage_source="estimated",
            endpoint="chat.completions",
            refusal="",
        ),
        make_record(
            T0 + 1,
            request_id="r2",
            team="analytics",
            environment="staging",
            purpose="batch-jobs",
            client_key="analytics-staging-batch-jobs",
            upstream_key="",
            prompt_tokens=0,
            completion_tokens=0,
            cost_pusd=0,
            status=429,
            latency_ms=0.1,
            usage_source="none",
            endpoint="audio.transcriptions",
            refusal="budget",
        ),
        make_record(T0 + 2, request_id="r3", team="ünïcode-团队", groq_id="req_ü"),
    ]
    await store.append_usage(records)
    got = await store.usage_records(T0, T0 + 3)
    assert got == records
    assert [type(r.streamed) for r in got] == [bool, bool, bool]


async def test_usage_records_range_is_half_open_and_ordered(store: Store) -> None:
    await store.append_usage([make_record(T0 + 2, request_id="c")])
    await store.append_usage([make_record(T0, request_id="a"), make_record(T0 + 1, request_id="b")])
    await store.append_usage([])
    assert [r.request_id for r in await store.usage_records(T0, T0 + 3)] == ["a", "b", "c"]
    assert [r.request_id for r in await store.usage_records(T0, T0 + 2)] == ["a", "b"]
    assert [r.request_id for r in await store.usage_records(T0 + 1, T0 + 1)] == []


async def test_spend_per_team_sums_exactly(store: Store) -> None:
    month_start, month_end = 1_790_812_800.0, 1_793_491_200.0  # 2026-10-01 .. 2026-11-01 UTC
    records = [
        make_record(month_start, team="chatbot", cost_pusd=31_310_000),
        make_record(month_start + 5, team="chatbot", cost_pusd=1),
        make_record(month_start + 6, team="analytics", cost_pusd=10**15, status=200),
        make_record(month_start + 7, team="analytics", cost_pusd=0, status=429, refusal="budget"),
        make_record(month_start - 0.001, team="chatbot", cost_pusd=999),  # previous month
        make_record(month_end, team="chatbot", cost_pusd=999),  # next month
        make_record(month_end + 9, team="search", cost_pusd=999),
    ]
    await store.append_usage(records)
    groups = await store.usage_summary(month_start, month_end, ("team",))
    assert [(g["team"], g.cost_pusd, g.requests) for g in groups] == [
        ("analytics", 10**15, 2),
        ("chatbot", 31_310_001, 2),
    ]
    assert await store.usage_summary(0, 1, ("team",)) == []


async def test_a_million_picodollar_costs_sum_exactly(store: Store) -> None:
    per_request = 37 * 590_000 + 12 * 790_000
    batch = [make_record(T0 + i * 1e-3, cost_pusd=per_request) for i in range(10_000)]
    await store.append_usage(batch)
    (total,) = await store.usage_summary(T0, T0 + 3600, ("team",))
    assert total.cost_pusd == 10_000 * per_request and total.requests == 10_000


async def test_concurrent_appends_all_land(store: Store) -> None:
    async def append(i: int) -> None:
        await store.append_usage([make_record(T0 + i, request_id=f"{i}-{j}") for j in range(10)])

    await asyncio.gather(*(append(i) for i in range(50)))
    records = await store.usage_records(T0, T0 + 100)
    assert len(records) == 500 and len({r.request_id for r in records}) == 500


# --- alert state -------------------------------------------------------------------------


async def test_mark_alert_fired_once_per_scope_period_threshold(store: Store) -> None:
    assert await store.mark_alert_fired("team:chatbot", "2026-11", "0.8")
    assert not await store.mark_alert_fired("team:chatbot", "2026-11", "0.8")
    assert await store.mark_alert_fired("team:chatbot", "2026-11", "0.95")
    assert await store.mark_alert_fired("team:chatbot", "2026-12", "0.8")
    assert await store.mark_alert_fired("org", "2026-11", "0.8")
    assert not await store.mark_alert_fired("org", "2026-11", "0.8")


async def test_alerts_fired_lists_the_marks_of_one_scope_and_period(store: Store) -> None:
    assert await store.alerts_fired("team:chatbot", "2026-11") == []
    for mark in ("forecast:2026-11-20", "0.5", "forecast-sent-on:2026-11-06"):
        assert await store.mark_alert_fired("team:chatbot", "2026-11", mark)
    await store.mark_alert_fired("team:chatbot", "2026-12", "0.8")
    await store.mark_alert_fired("org", "2026-11", "0.8")
    assert await store.alerts_fired("team:chatbot", "2026-11") == [
        "0.5",
        "forecast-sent-on:2026-11-06",
        "forecast:2026-11-20",
    ]


# --- client key rotation ---------------------------------------------------------------


async def test_rotate_client_key_renames_the_old_and_adds_the_successor(store: Store) -> None:
    old = make_key("chatbot-prod-web", key_hash="old")
    await store.add_client_key(old)
    version = await store.client_keys_version()
    successor = make_key("chatbot-prod-web", key_hash="new", created_at=T0 + 10)
    renamed = "chatbot-prod-web@rotated-20231114"
    assert await store.rotate_client_key(
        successor, old_name_after=renamed, old_expires_at=T0 + 10 + 7 * 86400
    )
    assert await store.client_keys_version() != version
    assert await store.get_client_key("chatbot-prod-web") == successor
    assert await store.get_client_key(renamed) == dataclasses.replace(
        old, name=renamed, expires_at=T0 + 10 + 7 * 86400
    )
    # Both stay usable until the grace period ends.
    assert len(await store.list_client_keys()) == 2


async def test_rotate_client_key_without_a_live_key_changes_nothing(store: Store) -> None:
    successor = make_key("chatbot-prod-web", key_hash="new")
    assert not await store.rotate_client_key(successor, old_name_after="x@r", old_expires_at=T0)
    assert await store.list_client_keys(include_revoked=True) == []


async def test_rotate_client_key_refuses_a_taken_rotated_name(store: Store) -> None:
    await store.add_client_key(make_key("chatbot-prod-web", key_hash="a"))
    await store.add_client_key(make_key("chatbot-prod-web@r", key_hash="b"))
    with pytest.raises(KeyError):
        await store.rotate_client_key(
            make_key("chatbot-prod-web", key_hash="c"),
            old_name_after="chatbot-prod-web@r",
            old_expires_at=T0,
        )
    assert {k.key_hash for k in await store.list_client_keys()} == {"a", "b"}


# --- upstream key state and usage ------------------------------------------------------


def _state(name: str, **overrides: object) -> UpstreamKeyState:
    values: dict[str, object] = {
        "name": name,
        "project": "chatbot-prod",
        "state": "active",
        "secret_ref": f"env:{name.upper().replace('-', '_')}",
        "preferred_order": 0,
        "updated_at": T0,
        "fingerprint": "gsk_…abcd",
    }
    values.update(overrides)
    return UpstreamKeyState(**values)  # type: ignore[arg-type]


async def test_upstream_states_upsert_by_name_and_bump_the_version(store: Store) -> None:
    assert await store.upstream_key_states() == []
    v0 = await store.upstream_state_version()
    old = _state("chatbot-prod-2026-04", state="draining", preferred_order=1)
    new = _state("chatbot-prod-2026-05", preferred_order=0, secret_ref="aws-sm:groq#prod")
    other = _state("analytics-prod-1", project="analytics-prod")
    await store.set_upstream_key_states([old, new, other])
    v1 = await store.upstream_state_version()
    assert v1 != v0
    # By project, then preferred order.
    assert await store.upstream_key_states() == [other, new, old]
    retired = dataclasses.replace(old, state="retired", updated_at=T0 + 5)
    await store.set_upstream_key_states([retired])
    assert await store.upstream_state_version() not in (v0, v1)
    assert await store.upstream_key_states() == [other, new, retired]


async def test_upstream_state_version_ignores_usage(store: Store) -> None:
    version = await store.upstream_state_version()
    await store.record_upstream_usage({"k": _delta(T0, 3)})
    await store.set_upstream_key_states([])
    assert await store.upstream_state_version() == version


def _delta(
    at: float, requests: int, failures: int = 0, fp: str = "gsk_…0001"
) -> UpstreamUsageDelta:
    hour = int(at) // 3600 * 3600
    return UpstreamUsageDelta(requests, failures, at, at, fp, {hour: requests})


async def test_upstream_usage_adds_up_and_keeps_first_and_last_use(store: Store) -> None:
    await store.record_upstream_usage({"k1": _delta(T0 + 100, 3, 1), "k2": _delta(T0, 1)})
    await store.record_upstream_usage({"k1": _delta(T0 + 50, 2)})
    await store.record_upstream_usage({"k1": _delta(T0 + 200, 4, fp="")})
    usage = {u.name: u for u in await store.upstream_key_usage(T0 + 300)}
    assert usage["k1"] == UpstreamKeyUsage("k1", "gsk_…0001", 9, 1, T0 + 50, T0 + 200, 9)
    assert usage["k2"] == UpstreamKeyUsage("k2", "gsk_…0001", 1, 0, T0, T0, 1)


async def test_upstream_usage_counts_the_last_24_hours(store: Store) -> None:
    now = 1_700_006_400.0  # a whole hour
    await store.record_upstream_usage({"k": _delta(now - 30 * 3600, 5)})
    await store.record_upstream_usage({"k": _delta(now - 23.5 * 3600, 7)})
    await store.record_upstream_usage({"k": _delta(now - 60, 11)})
    [usage] = await store.upstream_key_usage(now)
    assert (usage.requests, usage.requests_24h) == (23, 18)
    [later] = await store.upstream_key_usage(now + 48 * 3600)
    assert (later.requests, later.requests_24h, later.last_used_at) == (23, 0, now - 60)


async def test_upstream_usage_of_an_unused_store_is_empty(store: Store) -> None:
    assert await store.upstream_key_usage(T0) == []
    await store.record_upstream_usage({})
    assert await store.upstream_key_usage(T0) == []
