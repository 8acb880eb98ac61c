"""The upstream keys of each project (a team's environment), and which to use.

Each key has a state: ``active`` keys take traffic (the first preferred, or in
turn with ``key_selection: round_robin``), ``draining`` keys only when no
active key can, ``retired`` never. A key Groq rejected (401) is set aside for
``failed_key_backoff_s`` and then tried again.

>>> pool = ProjectKeys("chatbot-prod", [UpstreamKey("k1", "gsk_one", "active")])
>>> pool.choose(now=0.0).name
'k1'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from teamgate.config.schema import KeySelection, KeyState
from teamgate.secrets import secret_fingerprint


@dataclass(slots=True)
class UpstreamKey:
    name: str
    secret: str = field(repr=False)
    state: KeyState = "active"
    failed_until: float = 0.0
    requests: int = 0
    failures: int = 0
    last_used: float | None = None
    secret_ref: str = ""  # where the secret comes from (env:…, aws-sm:…): safe to show
    project: str = ""

    @property
    def fingerprint(self) -> str:
        return secret_fingerprint(self.secret)


class ProjectKeys:
    """The keys of one Groq Project, in preference order."""

    def __init__(
        self, project: str, keys: Iterable[UpstreamKey], selection: KeySelection = "first"
    ) -> None:
        self.project = project
        self.keys = list(keys)
        self._selection = selection
        self._turn = 0

    def choose(self, now: float, exclude: frozenset[str] = frozenset()) -> UpstreamKey | None:
        """The key to use next, or None when no usable key is left."""
        for wanted in ("active", "draining"):
            usable = [
                k
                for k in self.keys
                if k.state == wanted and k.failed_until <= now and k.name not in exclude
            ]
            if usable:
                if self._selection == "round_robin" and wanted == "active":
                    self._turn = (self._turn + 1) % len(usable)
                    return usable[self._turn]
                return usable[0]
        return None

    def arrange(self, keys: Iterable[UpstreamKey]) -> None:
        """Replace the keys (in preference order); requests in flight keep the key they hold."""
        self.keys = list(keys)

    def mark_failed(self, key: UpstreamKey, now: float, backoff_s: float) -> None:
        key.failures += 1
        key.failed_until = now + backoff_s
