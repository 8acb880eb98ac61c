"""The simulator's own HTTP control routes, for out-of-process use (demos, benchmarks).

=========================  ===========================================  ==============
``POST /_sim/keys/revoke``  ``{"key": "gsk_..."}``                       revoke a key
``POST /_sim/keys/add``     ``{"key": "gsk_..."}``                       accept a key
``POST /_sim/faults``       ``{"key": null | "gsk_...", "specs": [..]}``  queue faults
``GET  /_sim/stats``        the recording, keys as fingerprints only
``POST /_sim/reset``        forget recordings, faults, key changes
=========================  ===========================================  ==============

>>> # httpx.post(url + "/_sim/faults", json={"key": None, "specs": ["500"]})
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from teamgate.simulator.asgi import Send, send_response
from teamgate.simulator.faults import FaultSpecError

if TYPE_CHECKING:
    from teamgate.simulator.app import Simulator

_JSON = (b"content-type", b"application/json")
_OK = b'{"ok":true}'


async def _reply(send: Send, status: int, payload: Any) -> None:
    await send_response(send, status, [_JSON], orjson.dumps(payload))


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


async def handle_control(sim: Simulator, method: str, path: str, body: bytes, send: Send) -> None:
    """Serve one ``/_sim/...`` request."""
    if path == "/_sim/stats" and method == "GET":
        await _reply(send, 200, sim.state.snapshot())
        return
    if method != "POST":
        await _reply(send, 404, {"error": f"no such control route: {method} {path}"})
        return
    payload = _json_object(body)
    if payload is None:
        await _reply(send, 400, {"error": "body must be a JSON object"})
        return
    if path in ("/_sim/keys/revoke", "/_sim/keys/add"):
        key = payload.get("key")
        if not isinstance(key, str) or not key:
            await _reply(send, 400, {"error": "'key' must be a non-empty string"})
            return
        (sim.revoke_key if path.endswith("revoke") else sim.add_key)(key)
    elif path == "/_sim/faults":
        key, specs = payload.get("key"), payload.get("specs")
        if key is not None and not isinstance(key, str):
            await _reply(send, 400, {"error": "'key' must be null or a string"})
            return
        if not isinstance(specs, list) or not all(isinstance(s, str) for s in specs):
            await _reply(send, 400, {"error": "'specs' must be a list of strings"})
            return
        try:
            sim.push_faults(key, *specs)
        except FaultSpecError as exc:
            await _reply(send, 400, {"error": str(exc)})
            return
    elif path == "/_sim/reset":
        sim.reset()
    else:
        await _reply(send, 404, {"error": f"no such control route: {method} {path}"})
        return
    await send_response(send, 200, [_JSON], _OK)
