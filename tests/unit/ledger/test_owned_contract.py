"""Store contract for owned Groq files and batches (runs against every backend)."""

from __future__ import annotations

import asyncio

from teamgate.ledger.owned import OwnedObject
from teamgate.ledger.store import Store
from tests.support.ledger_records import make_record

T0 = 1_700_000_000.0


def owned(object_id: str, team: str = "research", kind: str = "file", **kw: object) -> OwnedObject:
    return OwnedObject(kind, object_id, team, "prod", kw.pop("created_at", T0), **kw)  # type: ignore[arg-type]


async def test_add_get_round_trips_every_field(store: Store) -> None:
    obj = owned("batch_1", kind="batch", worst_case_pusd=10**15, info='{"input_file_id":"f"}')
    await store.add_owned_object(obj)
    assert await store.get_owned_object("batch", "batch_1") == obj
    assert await store.get_owned_object("file", "batch_1") is None  # kinds are separate
    assert await store.get_owned_object("batch", "nope") is None


async def test_second_add_of_same_id_keeps_the_first_owner(store: Store) -> None:
    await store.add_owned_object(owned("file_1", team="research"))
    await store.add_owned_object(owned("file_1", team="chatbot"))
    found = await store.get_owned_object("file", "file_1")
    assert found is not None and found.team == "research"


async def test_list_shows_only_the_teams_own_oldest_first(store: Store) -> None:
    await store.add_owned_object(owned("file_b", created_at=T0 + 2))
    await store.add_owned_object(owned("file_a", created_at=T0 + 1))
    await store.add_owned_object(owned("file_c", team="chatbot"))
    await store.add_owned_object(owned("batch_x", kind="batch"))
    listed = await store.list_owned_objects("file", "research")
    assert [o.object_id for o in listed] == ["file_a", "file_b"]
    assert [o.object_id for o in await store.list_owned_objects("file", "chatbot")] == ["file_c"]
    assert await store.list_owned_objects("file", "analytics") == []


async def test_delete(store: Store) -> None:
    await store.add_owned_object(owned("file_1"))
    assert await store.delete_owned_object("file", "file_1")
    assert not await store.delete_owned_object("file", "file_1")
    assert await store.get_owned_object("file", "file_1") is None


async def test_settled_exactly_once_even_concurrently(store: Store) -> None:
    await store.add_owned_object(owned("batch_1", kind="batch"))
    results = await asyncio.gather(
        *(store.settle_owned_object("batch", "batch_1", T0 + i, []) for i in range(5))
    )
    assert sorted(results) == [False, False, False, False, True]
    found = await store.get_owned_object("batch", "batch_1")
    assert found is not None and found.settled and found.settled_at is not None
    assert not await store.settle_owned_object("batch", "unknown", T0, [])


async def test_settle_writes_the_records_with_the_mark_exactly_once(store: Store) -> None:
    await store.add_owned_object(owned("batch_1", kind="batch"))
    rows = [
        make_record(ts=T0 + 1, request_id="batch_1/m", cost_pusd=7, endpoint="batches"),
        make_record(ts=T0 + 1, request_id="batch_1/n", cost_pusd=5, endpoint="batches"),
    ]
    results = await asyncio.gather(
        *(store.settle_owned_object("batch", "batch_1", T0 + i, rows) for i in range(4))
    )
    assert sorted(results) == [False, False, False, True]
    assert await store.usage_records(T0, T0 + 10) == rows  # written once, by the winner
    found = await store.get_owned_object("batch", "batch_1")
    assert found is not None and found.settled
    assert not await store.settle_owned_object("batch", "batch_1", T0, rows)
    assert not await store.settle_owned_object("batch", "batch_1", T0, [])
    assert not await store.settle_owned_object("batch", "unknown", T0, rows)
    assert len(await store.usage_records(T0, T0 + 10)) == 2
