"""One row of the audit trail: who changed what, when, from where.

``actor`` is ``admin-key:<fingerprint>``, ``team-admin:<credential>``, ``sso:<user>`` or
``cli:<user>@<host>`` (fingerprints are the first 12 hex digits of a SHA-256,
never the secret). ``before``/``after`` hold config-visible values as JSON
objects (a key's team, environment, expiry and fingerprint; a budget; a
limit), never a secret. The table is append-only in both stores.

>>> entry = AuditEntry.new("cli:ops@host", "keys.revoke", "chatbot-prod-web",
...                        before={"state": "live"}, after={"state": "revoked"}, ts=1.0)
>>> entry.as_json()["after"]
{'state': 'revoked'}
"""

from __future__ import annotations

import getpass
import hashlib
import socket
import time
from dataclasses import dataclass
from typing import Any

import orjson


def fingerprint(secret: str) -> str:
    """12 hex digits of the secret's SHA-256: names a credential without revealing it."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


def cli_actor() -> str:
    """``cli:user@host`` of the person running a CLI command."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"cli:{user}@{socket.gethostname()}"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit row. ``id`` is assigned by the store (0 before it is stored)."""

    ts: float
    actor: str
    action: str
    target: str
    before: str  # JSON object text, "{}" when there is nothing to show
    after: str
    source: str  # the client address, or "cli"
    id: int = 0

    @classmethod
    def new(
        cls,
        actor: str,
        action: str,
        target: str,
        *,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        source: str = "cli",
        ts: float | None = None,
    ) -> AuditEntry:
        return cls(
            ts=time.time() if ts is None else ts,
            actor=actor,
            action=action,
            target=target,
            before=orjson.dumps(before or {}, option=orjson.OPT_SORT_KEYS).decode(),
            after=orjson.dumps(after or {}, option=orjson.OPT_SORT_KEYS).decode(),
            source=source,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts": self.ts,
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "before": orjson.loads(self.before),
            "after": orjson.loads(self.after),
            "source": self.source,
        }


AUDIT_COLUMNS = ("ts", "actor", "action", "target", "before", "after", "source")
