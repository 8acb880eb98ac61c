"""One pause switch: a team, one of its environments, or one client key, stopped by an
operator with a reason and an optional end.

``scope`` is ``team:<team>``, ``env:<team>/<environment>`` or ``key:<key name>``.
``until`` is unix seconds (None: until resumed); a pause past its ``until`` no longer
stops anything. ``actor`` is who paused it (the audit trail's spelling).

>>> p = Pause("team:chatbot", "leaked key", until=None, paused_at=1.0, actor="cli:ops@host")
>>> p.active(2.0), Pause("key:k", "r", 5.0, 1.0, "a").active(5.0)
(True, False)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Pause:
    scope: str
    reason: str
    until: float | None
    paused_at: float
    actor: str

    def active(self, now: float) -> bool:
        return self.until is None or now < self.until


PAUSE_COLUMNS = tuple(f.name for f in dataclasses.fields(Pause))
