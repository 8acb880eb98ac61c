"""Request ids for usage records: ``req_`` + 26 hex digits, unique, cheap.

A random 56-bit prefix drawn once per process, then a 48-bit counter: unique
across processes and restarts (the prefix) without a ``uuid4()`` (an
``os.urandom`` system call) on every request.

>>> ids = RequestIds(prefix="0123456789abcd")
>>> ids.next(), ids.next()
('req_0123456789abcd000000000001', 'req_0123456789abcd000000000002')
"""

from __future__ import annotations

import itertools
import secrets


class RequestIds:
    """Hands out ``req_<14 hex prefix><12 hex counter>``; one per gateway."""

    __slots__ = ("_counter", "_prefix")

    def __init__(self, prefix: str | None = None) -> None:
        self._prefix = "req_" + (prefix if prefix is not None else secrets.token_hex(7))
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFFFFFFFFFF:012x}"
