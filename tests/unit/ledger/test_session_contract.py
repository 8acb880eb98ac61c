"""Dashboard sessions in every store: stored by hash, live until expiry or revocation,
seen by a second connection to the same store, purged when dead."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from teamgate.ledger.session_records import DashboardSession, session_hash
from teamgate.ledger.sqlite.store import SQLiteStore
from teamgate.ledger.store import Store

T0 = 1_700_000_000.0


def make_session(token: str, **overrides: object) -> DashboardSession:
    values: dict[str, object] = {
        "id_hash": session_hash(token),
        "name": "ana@example.com",
        "role": "team-admin",
        "teams": ("chatbot", "research"),
        "org": False,
        "via": "oidc",
        "created_at": T0,
        "expires_at": T0 + 3600,
    }
    values.update(overrides)
    return DashboardSession(**values)  # type: ignore[arg-type]


async def test_live_until_expiry_and_revocation(store: Store) -> None:
    ana = make_session("tok-ana")
    admin = make_session(
        "tok-admin", name="admin", role="org-admin", teams=(), org=True, via="admin-key"
    )
    await store.add_dashboard_session(ana)
    await store.add_dashboard_session(admin)
    assert await store.dashboard_session(session_hash("tok-ana"), T0 + 1) == ana
    assert await store.dashboard_session(session_hash("tok-admin"), T0 + 1) == admin
    assert await store.dashboard_session(session_hash("forged"), T0 + 1) is None
    assert await store.dashboard_session("tok-ana", T0 + 1) is None  # only the hash finds it
    assert await store.dashboard_session(session_hash("tok-ana"), T0 + 3600) is None  # expired

    ended = await store.revoke_dashboard_session(session_hash("tok-ana"), T0 + 5)
    assert ended == dataclasses.replace(ana, revoked_at=T0 + 5)
    assert await store.dashboard_session(session_hash("tok-ana"), T0 + 6) is None
    assert await store.revoke_dashboard_session(session_hash("tok-ana"), T0 + 7) is None
    assert await store.revoke_dashboard_session(session_hash("forged"), T0 + 7) is None
    assert await store.dashboard_session(session_hash("tok-admin"), T0 + 6) == admin


async def test_dead_sessions_are_purged_when_one_is_made(store: Store) -> None:
    old = make_session("old", expires_at=T0 + 10)
    await store.add_dashboard_session(old)
    await store.add_dashboard_session(make_session("new", created_at=T0 + 20))
    # the old row is gone: an id hash can be used again once its session is dead
    await store.add_dashboard_session(make_session("old", created_at=T0 + 30, expires_at=T0 + 99))
    found = await store.dashboard_session(session_hash("old"), T0 + 31)
    assert found is not None and found.created_at == T0 + 30


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_second_connection_sees_sessions_and_revocations(
    backend: str, tmp_path: Path
) -> None:
    """Two stores on one database (two gateway instances): what one makes or ends, the
    other sees at once."""
    if backend == "sqlite":
        first: Store = SQLiteStore(str(tmp_path / "shared.db"))
        await first.open()
        second: Store = SQLiteStore(str(tmp_path / "shared.db"))
    else:
        from teamgate.ledger.postgres.store import PostgresStore
        from tests.support.shared_services import TempSchemaPostgresStore

        temp = TempSchemaPostgresStore()
        await temp.open()
        first = temp
        second = PostgresStore(temp.url, schema=temp.schema)
    await second.open()
    try:
        await first.add_dashboard_session(make_session("shared"))
        assert await second.dashboard_session(session_hash("shared"), T0 + 1) is not None
        await second.revoke_dashboard_session(session_hash("shared"), T0 + 2)
        assert await first.dashboard_session(session_hash("shared"), T0 + 3) is None
    finally:
        await second.close()
        await first.close()
