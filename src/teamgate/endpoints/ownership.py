"""Files and batches belong to the team AND environment that created them; others get 404.

Each environment is its own Groq Project (the seed: ``chatbot-prod`` and
``chatbot-staging``), so a ``chatbot-staging`` key sees only the objects made
with a ``chatbot-staging`` key: another team's or another environment's id
answers 404 exactly as a missing one, and listings show only the key's own.

>>> not_found("file", "file_x").status
404
"""

from __future__ import annotations

from typing import Any

import orjson

from teamgate.http.errors import NotFound
from teamgate.ledger.owned import ObjectKind, OwnedObject
from teamgate.ledger.records import ClientKey
from teamgate.ledger.store import Store
from teamgate.runtime import Gateway


def not_found(kind: ObjectKind, object_id: str) -> NotFound:
    """The 404 for an id that does not exist, or is another team's (the same answer)."""
    return NotFound(f"No such {kind}: `{object_id[:100]}`", code="not_found")


def store_of(gw: Gateway) -> Store:
    assert gw.store is not None, "the gateway is not open"
    return gw.store


async def owned_or_404(
    gw: Gateway, kind: ObjectKind, object_id: str, key: ClientKey
) -> OwnedObject:
    """The object if ``key``'s team and environment own it, else the 404 of a missing one."""
    obj = await store_of(gw).get_owned_object(kind, object_id)
    if obj is None or not owns(key, obj):
        raise not_found(kind, object_id)
    return obj


def owns(key: ClientKey, obj: OwnedObject) -> bool:
    """True when ``obj`` was made by ``key``'s team in ``key``'s environment."""
    return obj.team == key.team and obj.environment == key.environment


def json_object(data: bytes) -> dict[str, Any] | None:
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


async def only_owned(
    gw: Gateway, kind: ObjectKind, key: ClientKey, listing: dict[str, Any]
) -> dict[str, Any]:
    """Groq's list answer with every item ``key`` does not own removed."""
    owned = await store_of(gw).list_owned_objects(kind, key.team)
    mine = {o.object_id for o in owned if o.environment == key.environment}
    data = listing.get("data")
    items = data if isinstance(data, list) else []
    kept = [i for i in items if isinstance(i, dict) and i.get("id") in mine]
    out = dict(listing, data=kept)
    if kept:
        out["first_id"], out["last_id"] = kept[0]["id"], kept[-1]["id"]
    else:
        out.pop("first_id", None)
        out.pop("last_id", None)
    return out
