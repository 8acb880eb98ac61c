"""A cloud SDK client made on first use, once, even from several threads.

>>> made = []
>>> client = LazyClient(lambda: made.append(1) or "client")
>>> client.get(), client.get(), len(made)
('client', 'client', 1)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class LazyClient:
    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._client: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._factory()
            return self._client
