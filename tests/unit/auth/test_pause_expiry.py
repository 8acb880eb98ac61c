"""A pause that ends by its ``until`` sends one ``resumed`` alert, whichever gateway sees it
first, and none again after a restart (the store's alert state)."""

from __future__ import annotations

import jsonschema

from teamgate.auth.pauses import EXPIRY_LOOKBACK_S, PauseExpiry
from teamgate.ledger.pause_records import Pause
from teamgate.ledger.store import Store
from teamgate.observability.alert_delivery import ALERT_SCHEMA
from teamgate.observability.alerts import AlertManager
from tests.support.alert_fakes import RecordingPoster, make_settings
from tests.support.store_backends import store_fixture

NOW = 1_795_000_000.0


store = store_fixture("sqlite-file", "postgresql")


async def test_one_resumed_alert_when_a_pause_expires(store: Store) -> None:
    clock = [NOW]
    poster = RecordingPoster()
    await store.set_pause(Pause("team:chatbot", "runaway job", NOW + 60, NOW, "cli:ops@h"))
    await store.set_pause(Pause("key:chatbot-prod-web", "leak", None, NOW, "admin"))
    await store.set_pause(Pause("env:chatbot/dev", "old", NOW - EXPIRY_LOOKBACK_S - 1, 0, "a"))
    instances = [AlertManager(make_settings(), store, http_post=poster) for _ in range(3)]
    watches = [PauseExpiry(store, a.notify_once, clock=lambda: clock[0]) for a in instances]

    assert [await w.check_once() for w in watches] == [0, 0, 0]  # still paused
    clock[0] = NOW + 61
    assert [await w.check_once() for w in watches] == [1, 0, 0]  # once, across instances
    assert [await w.check_once() for w in watches] == [0, 0, 0]
    for a in instances:
        await a.close()
    [post] = poster.payloads
    assert post["event"] == "resumed"
    assert (post["scope"], post["team"], post["expired"]) == ("team:chatbot", "chatbot", True)
    assert post["reason"] == "runaway job" and post["until"] == "2026-11-18T11:07:40Z"
    assert "is resumed: its pause ended at 2026-11-18T11:07:40Z" in str(post["text"])
    jsonschema.validate(post, ALERT_SCHEMA)

    # a restart: nothing again; a new pause of the same scope is a new one to announce
    again = AlertManager(make_settings(), store, http_post=poster)
    restarted = PauseExpiry(store, again.notify_once, clock=lambda: clock[0])
    assert await restarted.check_once() == 0
    await store.set_pause(Pause("team:chatbot", "again", NOW + 120, NOW + 62, "admin"))
    clock[0] = NOW + 200
    assert await restarted.check_once() == 1
    await again.close()
    assert [p["reason"] for p in poster.payloads] == ["runaway job", "again"]
