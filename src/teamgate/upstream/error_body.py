"""Groq-shaped bodies for upstream errors that did not come in Groq's shape.

Groq's own errors (JSON ``{"error": {...}}``) pass through to the client
untouched. A load balancer or proxy in front of Groq may instead answer a
5xx with a plain-text or HTML page; the SDKs cannot parse that, so teamgate
replaces it with the same status and a Groq-shaped JSON body quoting the
start of the text.

>>> orjson.loads(groq_shaped_error(503, "text/plain", b"503 Service Unavailable\\n"))["error"]
{'message': 'Groq answered HTTP 503: 503 Service Unavailable', 'type': 'internal_server_error', \
'code': 'upstream_error'}
>>> groq_shaped_error(500, "application/json", b'{"error":{"message":"x","type":"t"}}') is None
True
"""

from __future__ import annotations

import orjson

QUOTE_LIMIT = 200


def is_groq_error(content_type: str, body: bytes) -> bool:
    """True when ``body`` is a JSON object with an ``error`` object, as Groq sends errors."""
    if "json" not in content_type.lower():
        return False
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return isinstance(parsed, dict) and isinstance(parsed.get("error"), dict)


def groq_shaped_error(status: int, content_type: str, body: bytes) -> bytes | None:
    """None when ``body`` is already Groq-shaped; else the JSON body to send instead."""
    if is_groq_error(content_type, body):
        return None
    text = " ".join(body.decode("utf-8", "replace").split())
    if len(text) > QUOTE_LIMIT:
        text = text[:QUOTE_LIMIT] + "…"
    message = f"Groq answered HTTP {status}" + (f": {text}" if text else "")
    kind = "internal_server_error" if status >= 500 else "invalid_request_error"
    return orjson.dumps({"error": {"message": message, "type": kind, "code": "upstream_error"}})
