"""A dashboard session opened with a credential, as a browser does it (the login form's CSRF)."""

from __future__ import annotations

import re

import httpx

from tests.conftest import RunningGateway


def dashboard_session(gw: RunningGateway, credential: str) -> httpx.Client:
    client = httpx.Client(base_url=gw.url, timeout=30)
    page = client.get("/dashboard/login")
    csrf = re.search(r'name=csrf value="([^"]+)"', page.text)
    assert csrf is not None
    resp = client.post("/dashboard/login", data={"csrf": csrf.group(1), "key": credential})
    assert resp.status_code == (303 if credential else 401)
    return client
