"""Does a request body leave room for Groq to read a field differently than policy did?

teamgate checks the body as orjson parses it (a repeated key: the last one
wins) and forwards the client's own bytes. A parser upstream that keeps the
first of two repeated keys would then see another model or token cap than
the one policy allowed: ``{"model": "big", "model": "small"}``. A key can
also be spelled with ``\\u`` escapes (``"\\u006dodel"``). When either could
be the case for a field policy depends on, the proxy forwards the body
re-encoded from what it parsed instead, so upstream reads exactly what was
checked.

>>> ambiguous_keys(b'{"model": "a", "messages": []}')
False
>>> ambiguous_keys(b'{"model": "a", "model": "b"}')
True
>>> ambiguous_keys(b'{"\\\\u006dodel": "a"}')
True
"""

from __future__ import annotations

POLICY_KEYS = (b'"model"', b'"max_tokens"', b'"max_completion_tokens"', b'"stream"', b'"n"')


def ambiguous_keys(raw: bytes) -> bool:
    """True when a policy field may be repeated or escaped in ``raw`` (a cheap byte scan;
    false positives only cost a re-encoding)."""
    if b"\\u" in raw:
        return True
    return any(raw.count(key) > 1 for key in POLICY_KEYS)


# orjson parses up to 1024 levels but encodes at most 254; teamgate re-encodes parts of
# a body (token bounds, rewritten models), so it accepts no more than it can encode.
MAX_DEPTH = 128


def nesting_depth(value: object, stop_at: int = MAX_DEPTH + 1) -> int:
    """How deeply lists and objects nest in ``value`` (stops counting at ``stop_at``).

    >>> nesting_depth({"a": [1, {"b": []}]})
    4
    """
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        children: list[object]
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
            if deepest >= stop_at:
                return deepest
        stack.extend((child, depth) for child in children)
    return deepest


def too_deep(raw: bytes, body: object) -> bool:
    """True when ``body`` (parsed from ``raw``) nests deeper than :data:`MAX_DEPTH`.
    Only bodies with that many brackets are walked."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return False
    return nesting_depth(body) > MAX_DEPTH
