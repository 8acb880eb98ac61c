"""Pause switches in every store: set, replace, clear, list; each change bumps keys_version."""

from __future__ import annotations

from teamgate.ledger.pause_records import Pause
from teamgate.ledger.store import Store

T0 = 1_700_000_000.0


async def test_set_replace_clear_and_list(store: Store) -> None:
    v0 = await store.client_keys_version()
    first = Pause("team:chatbot", "runaway job", None, T0, "cli:ops@host")
    assert await store.set_pause(first) is None
    v1 = await store.client_keys_version()
    assert v1 != v0
    later = Pause("team:chatbot", "still leaking", T0 + 7200.5, T0 + 10, "admin-key:abc")
    assert await store.set_pause(later) == first
    key = Pause("key:analytics-prod-batch", "risky", None, T0 + 1, "cli:ops@host")
    env = Pause("env:chatbot/staging", "load test", T0 + 60, T0 + 2, "dashboard:f00")
    await store.set_pause(key)
    await store.set_pause(env)
    assert await store.list_pauses() == [env, key, later]  # by scope
    v2 = await store.client_keys_version()
    assert await store.clear_pause("team:chatbot") == later
    assert await store.client_keys_version() != v2
    v3 = await store.client_keys_version()
    assert await store.clear_pause("team:chatbot") is None
    assert await store.client_keys_version() == v3  # nothing changed, nothing bumped
    assert await store.list_pauses() == [env, key]
