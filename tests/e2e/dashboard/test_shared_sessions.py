"""Dashboard sessions live in the store: a session made on one gateway instance works on a
second instance sharing the store (and after a restart); signing out on one ends it on all.
Over both stores."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from teamgate.app import create_app
from teamgate.config.loader import parse_settings
from teamgate.http.serving import ServerThread
from teamgate.simulator import Simulator
from tests.conftest import BASE_CONFIG, UPSTREAM_SECRETS, merge
from tests.support.admin_gateway import ADMIN_KEY


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.db'}"
        return
    from teamgate.ledger.postgres.store import PostgresStore
    from tests.support.shared_services import (
        POSTGRES_URL,
        create_schema,
        drop_schema,
        schema_url,
        unique_name,
    )

    schema = unique_name("sessions")
    asyncio.run(create_schema(schema))
    asyncio.run(PostgresStore(POSTGRES_URL, schema=schema).migrate())
    try:
        yield schema_url(schema)
    finally:
        asyncio.run(drop_schema(schema))


def instance(stack: ExitStack, simulator: Simulator, storage_url: str) -> str:
    """One more gateway on the shared store; its base URL."""
    data: dict[str, Any] = merge(
        BASE_CONFIG,
        {"upstream": {"base_url": simulator.url}, "storage": {"url": storage_url}},  # type: ignore[attr-defined]
    )
    app = create_app(
        parse_settings(data), env={**UPSTREAM_SECRETS, "TEAMGATE_ADMIN_KEY": ADMIN_KEY}
    )
    return stack.enter_context(ServerThread(app))


def sign_in(url: str) -> tuple[str, str]:
    """Sign in on ``url`` with the admin key: (session cookie, the page's CSRF token)."""
    with httpx.Client(base_url=url) as client:
        csrf = client.get("/dashboard/login").cookies["tg_login_csrf"]
        resp = client.post("/dashboard/login", data={"csrf": csrf, "key": ADMIN_KEY})
        assert resp.status_code == 303
        session = client.cookies["tg_session"]
        page = client.get("/dashboard").text
    return session, page.split('name=csrf value="', 1)[1].split('"', 1)[0]


def reads(url: str, session: str) -> int:
    resp = httpx.get(url + "/dashboard/api/overview", cookies={"tg_session": session})
    return resp.status_code


def test_a_session_works_on_every_instance_and_sign_out_ends_it_everywhere(
    simulator: Simulator, storage_url: str
) -> None:
    with ExitStack() as stack:
        first = instance(stack, simulator, storage_url)
        second = instance(stack, simulator, storage_url)
        session, csrf = sign_in(first)
        assert reads(first, session) == 200
        assert reads(second, session) == 200  # made on the first, honoured by the second
        page = httpx.get(second + "/dashboard", cookies={"tg_session": session})
        assert page.status_code == 200 and f'value="{csrf}"' in page.text  # same CSRF token
        assert reads(second, "forged-" + session) == 401
        # signing out on the second instance ends the session on the first as well
        resp = httpx.post(
            second + "/dashboard/logout", data={"csrf": csrf}, cookies={"tg_session": session}
        )
        assert resp.status_code == 303
        assert reads(first, session) == 401
        assert reads(second, session) == 401


def test_a_restart_logs_nobody_out(simulator: Simulator, storage_url: str) -> None:
    with ExitStack() as stack:
        session, _ = sign_in(instance(stack, simulator, storage_url))
    with ExitStack() as stack:  # the first instance is gone: a new one on the same store
        assert reads(instance(stack, simulator, storage_url), session) == 200
