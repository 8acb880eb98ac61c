"""The OpenAPI 3.1 document of the admin API, generated from :data:`ROUTES`.

>>> doc = openapi_document()
>>> doc["openapi"], "/admin/usage" in doc["paths"]
('3.1.0', True)
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from teamgate.admin.access import roles_for
from teamgate.admin.routes import ROUTES, SCHEMAS

_ERROR_TEXT = {
    400: "Invalid parameter or body",
    401: "Missing or wrong admin key",
    403: "Admin API disabled (no admin key configured), or the caller's role may not do this",
    404: "Not found",
    409: "Conflict",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def openapi_document(
    version: str = "0", teams: Mapping[str, Sequence[str]] | None = None
) -> dict[str, Any]:
    """The document; ``teams`` (team -> environments) narrows key creation to them."""
    schemas = SCHEMAS
    if teams:
        schemas = copy.deepcopy(SCHEMAS)
        props = schemas["KeyCreate"]["properties"]
        props["team"] = {"type": "string", "enum": sorted(teams)}
        props["environment"] = {
            "type": "string",
            "enum": sorted({env for envs in teams.values() for env in envs}),
        }
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        params: list[dict[str, Any]] = [
            {
                "name": p.name,
                "in": "query",
                "required": False,
                "description": p.description,
                "schema": p.schema,
            }
            for p in route.query
        ]
        params += [
            {
                "name": seg[1:-1],
                "in": "path",
                "required": True,
                "schema": {"type": "string", "minLength": 1},
            }
            for seg in route.segments
            if seg.startswith("{")
        ]
        responses: dict[str, Any] = {
            str(route.status): {
                "description": "OK",
                "content": {"application/json": {"schema": _ref(route.response)}},
            }
        }
        for code in sorted({401, 403, *route.errors}):
            responses[str(code)] = {
                "description": _ERROR_TEXT[code],
                "content": {"application/json": {"schema": _ref("Error")}},
            }
        roles = roles_for(route.action, team_scoped=route.team_scoped)
        op: dict[str, Any] = {
            "operationId": route.operation_id,
            "summary": route.summary,
            "description": f"Needs `{route.action}`; roles: {', '.join(roles)}"
            + (" (a team admin or viewer only for its own teams)." if route.team_scoped else "."),
            "x-teamgate-action": route.action,
            "x-teamgate-roles": roles,
            "parameters": params,
            "responses": responses,
        }
        if route.body is not None:
            op["requestBody"] = {
                "required": route.body_required,
                "content": {"application/json": {"schema": _ref(route.body)}},
            }
        paths.setdefault(route.path, {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "teamgate admin API",
            "version": version,
            "description": "Usage, reports, team keys, upstream keys, budget and reload. "
            "Every route needs the admin key, or a `tga_` credential of a team admin or "
            "viewer for the operations whose `x-teamgate-roles` name that role.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "adminKey": {"type": "apiKey", "in": "header", "name": "x-admin-key"},
            },
        },
        "security": [{"bearer": []}, {"adminKey": []}],
    }
