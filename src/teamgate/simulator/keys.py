"""Which upstream keys the simulated Groq accepts; keys can be added and revoked live.

>>> registry = KeyRegistry(None)
>>> registry.accepts("gsk_anything"), registry.accepts("tg_team")
(True, False)
>>> registry.revoke("gsk_anything")
>>> registry.accepts("gsk_anything")
False
"""

from __future__ import annotations

import threading
from collections.abc import Iterable


class KeyRegistry:
    """Accepted keys: a fixed set, or (``keys=None``) any ``gsk_`` key; minus revoked ones."""

    def __init__(self, keys: Iterable[str] | None) -> None:
        self._lock = threading.Lock()
        self._initial = None if keys is None else frozenset(keys)
        self._accepted: set[str] | None = None if keys is None else set(keys)
        self._added: set[str] = set()
        self._revoked: set[str] = set()

    def accepts(self, key: str) -> bool:
        """True if a request with ``key`` is let in."""
        if key in self._revoked:
            return False
        if self._accepted is None:
            return key.startswith("gsk_") or key in self._added
        return key in self._accepted

    def revoke(self, key: str) -> None:
        """Refuse ``key`` from now on (401 ``invalid_api_key``)."""
        with self._lock:
            self._revoked = self._revoked | {key}

    def add(self, key: str) -> None:
        """Accept ``key`` from now on (also undoes a revoke)."""
        with self._lock:
            self._revoked = self._revoked - {key}
            if self._accepted is None:
                self._added = self._added | {key}
            else:
                self._accepted = self._accepted | {key}

    def reset(self) -> None:
        """Back to the configured keys, nothing revoked."""
        with self._lock:
            self._accepted = None if self._initial is None else set(self._initial)
            self._added = set()
            self._revoked = set()
