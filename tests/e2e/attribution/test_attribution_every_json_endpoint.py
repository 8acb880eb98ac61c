"""Attribution on every endpoint family that takes a JSON body: the end user and the tags a
request names are on its one usage record.

The table is the registry of metered endpoints (``ENDPOINTS`` of the outcome matrix,
tests/support/metered_endpoints.py) less the multipart ones; a metered endpoint in
``src/teamgate/endpoints`` that is in neither fails
:func:`test_the_table_covers_every_metered_endpoint`, so a new JSON endpoint cannot be
missed. Each family is asked with ``x-teamgate-user`` and ``x-teamgate-tags``; those whose
API has a ``user`` field (chat, Responses, embeddings) also with the body's ``user``.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import orjson
import pytest

from teamgate.simulator import Simulator
from tests.support.asgi_gateway import EMBED, KEY_1, Request, running
from tests.support.metered_endpoints import ENDPOINTS, Endpoint

ENDPOINTS_SRC = Path(__file__).resolve().parents[3] / "src" / "teamgate" / "endpoints"
MULTIPART = {"audio.transcriptions", "audio.translations", "files"}  # no JSON body
BODY_USER = {"chat.completions", "responses", "embeddings"}  # their APIs have `user`
JSON_ENDPOINTS = [e for e in ENDPOINTS if e.record_endpoint not in MULTIPART]
ROOMY = {"teams": {"analytics": {"limits": {"rpm": 1000, "tpd": 10_000_000}}}}


def _metered_in_src() -> set[str]:
    """The endpoint name of every ``MeteredRequest(...)`` in src/teamgate/endpoints (an
    f-string's fixed prefix followed by ``*``)."""
    names: set[str] = set()
    for path in ENDPOINTS_SRC.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (
                isinstance(node, ast.Call) and getattr(node.func, "id", "") == "MeteredRequest"
            ):
                continue
            name = node.args[-1]
            if isinstance(name, ast.Constant):
                names.add(str(name.value))
            elif isinstance(name, ast.JoinedStr) and isinstance(name.values[0], ast.Constant):
                names.add(f"{name.values[0].value}*")
            else:
                raise AssertionError(f"{path.name}: MeteredRequest's endpoint is not a literal")
    return names


def test_the_table_covers_every_metered_endpoint() -> None:
    found = _metered_in_src()
    assert len(found) >= 6, found
    known = {e.record_endpoint for e in ENDPOINTS} | MULTIPART
    missing = [
        name
        for name in found
        if (name.endswith("*") and not any(k.startswith(name[:-1]) for k in known))
        or (not name.endswith("*") and name not in known)
    ]
    assert not missing, f"add {missing} to the outcome matrix's ENDPOINTS (or to MULTIPART)"
    assert {e.record_endpoint for e in JSON_ENDPOINTS} >= BODY_USER | {"batches.create"}


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS, ids=lambda e: e.name)
async def test_a_json_endpoint_records_its_user_and_tags(
    endpoint: Endpoint, simulator: Simulator, tmp_path: Path
) -> None:
    simulator._models = simulator._models | {EMBED}  # an embeddings model Groq serves
    async with running(simulator.url, tmp_path, ROOMY) as h:  # type: ignore[attr-defined]
        request = await endpoint.build(h, simulator, KEY_1)
        assert request.content_type == "application/json"
        asked: list[tuple[str, str]] = []
        headers = {"x-teamgate-user": "u-header", "x-teamgate-tags": "tenant=acme,feature=f1"}
        reply = await h.call(request, headers=headers)
        assert reply.status == 200, reply.body[:300]
        asked.append(("u-header", "feature=f1,tenant=acme"))
        if endpoint.record_endpoint in BODY_USER:
            body: dict[str, Any] = orjson.loads(request.body)
            body["user"] = "u-body"
            with_user = Request(request.path, orjson.dumps(body))
            reply = await h.call(with_user, headers={"x-teamgate-tags": "feature=f2"})
            assert reply.status == 200, reply.body[:300]
            asked.append(("u-body", "feature=f2"))
        records = await h.records()
        assert [r.endpoint for r in records] == [endpoint.record_endpoint] * len(asked)
        assert [(r.end_user, r.tags) for r in records] == asked
