"""Routing for the endpoints beyond chat: one function the app calls before its 404.

Routes (after the ``/openai/v1/`` or ``/v1/`` prefix):

=====================================  ======================================
``POST audio/transcriptions``          :func:`.audio.handle_audio`
``POST audio/translations``            :func:`.audio.handle_audio`
``POST files`` / ``GET files``         :mod:`.files`
``GET|DELETE files/{id}``              :mod:`.files`
``GET files/{id}/content``             :mod:`.files`
``POST batches`` / ``GET batches``     :mod:`.batches`
``GET batches/{id}``                   :mod:`.batches`
``POST batches/{id}/cancel``           :mod:`.batches`
``POST responses``                     :func:`.responses.handle_responses`
``POST embeddings``                    :func:`.responses.handle_embeddings`
=====================================  ======================================

>>> split_route("files/file_1/content")
('files', 'file_1', 'content')
"""

from __future__ import annotations

from teamgate.auth.pauses import ScopePaused
from teamgate.endpoints.audio import handle_audio
from teamgate.endpoints.batches import batch_by_id, create_batch, list_batches
from teamgate.endpoints.files import file_by_id, list_files, upload_file
from teamgate.endpoints.responses import handle_embeddings, handle_responses
from teamgate.http.asgi import Receive, Scope, Send, header
from teamgate.http.errors import MethodNotAllowed
from teamgate.ledger.records import ClientKey
from teamgate.runtime import Gateway


def split_route(route: str) -> tuple[str, str, str]:
    """(root, id, rest) of ``root[/id[/rest]]``."""
    parts = route.split("/", 2)
    parts += [""] * (3 - len(parts))
    return parts[0], parts[1], parts[2]


def _allow(method: str, allowed: tuple[str, ...], scope: Scope) -> None:
    if method not in allowed:
        raise MethodNotAllowed(f"Method {method} is not allowed for {scope['path']}.")


def _key(gw: Gateway, scope: Scope) -> ClientKey:
    return gw.keys.authenticate(header(scope, b"authorization"))


def unpaused_key(gw: Gateway, scope: Scope) -> ClientKey:
    """The key of a request that reads or deletes without being metered (models, file and
    batch listings, an object by id): a paused scope is refused here too, 403
    ``scope_paused``, so a pause stops everything a leaked key can do. (A metered request
    is refused by its lifecycle, which also records it.)"""
    key = _key(gw, scope)
    pause = gw.keys.paused(key)
    if pause is not None:
        raise ScopePaused(pause)
    return key


async def route_beyond_chat(
    gw: Gateway, route: str, method: str, scope: Scope, receive: Receive, send: Send
) -> bool:
    """Serve ``route`` (the path after the prefix) if it is one of ours; False otherwise."""
    root, object_id, rest = split_route(route)
    if route in ("responses", "embeddings"):
        _allow(method, ("POST",), scope)
        handler = handle_responses if route == "responses" else handle_embeddings
        await handler(gw, scope, receive, send, _key(gw, scope))
        return True
    if route in ("audio/transcriptions", "audio/translations"):
        _allow(method, ("POST",), scope)
        await handle_audio(gw, scope, receive, send, _key(gw, scope), object_id)
        return True
    if (root == "files" and not rest.strip("/")) or (root == "files" and rest == "content"):
        if not object_id:
            _allow(method, ("GET", "POST"), scope)
            key = _key(gw, scope)
            if method == "POST":
                await upload_file(gw, scope, receive, send, key)
            else:
                await list_files(gw, scope, send, unpaused_key(gw, scope))
            return True
        _allow(method, ("GET",) if rest else ("GET", "DELETE"), scope)
        await file_by_id(gw, scope, send, unpaused_key(gw, scope), object_id, rest, method)
        return True
    if root == "batches" and rest in ("", "cancel") and (object_id or not rest):
        if not object_id:
            _allow(method, ("GET", "POST"), scope)
            key = _key(gw, scope)
            if method == "POST":
                await create_batch(gw, scope, receive, send, key)
            else:
                await list_batches(gw, scope, send, unpaused_key(gw, scope))
            return True
        _allow(method, ("POST",) if rest else ("GET",), scope)
        await batch_by_id(gw, scope, send, unpaused_key(gw, scope), object_id, cancel=bool(rest))
        return True
    return False
