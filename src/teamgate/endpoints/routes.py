"""Routing for the endpoints beyond chat: one function the app calls before its 404.

>>> "audio/transcriptions" in EXACT_ROUTES
True
"""

from __future__ import annotations

from teamgate.asgi import Receive, Scope, Send, header
from teamgate.endpoints.audio import handle_audio
from teamgate.errors import MethodNotAllowed
from teamgate.runtime import Gateway

EXACT_ROUTES = frozenset({"audio/transcriptions", "audio/translations"})


def _method(method: str, allowed: str, scope: Scope) -> None:
    if method != allowed:
        raise MethodNotAllowed(f"Method {method} is not allowed for {scope['path']}.")


async def route_beyond_chat(
    gw: Gateway, route: str, method: str, scope: Scope, receive: Receive, send: Send
) -> bool:
    """Serve ``route`` (the path after the prefix) if it is one of ours; False otherwise."""
    if route in ("audio/transcriptions", "audio/translations"):
        _method(method, "POST", scope)
        key = gw.keys.authenticate(header(scope, b"authorization"))
        await handle_audio(gw, scope, receive, send, key, route.split("/")[1])
        return True
    return False
