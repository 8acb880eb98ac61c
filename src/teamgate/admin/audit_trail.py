"""Writing the audit trail from the admin API and the dashboard.

Every state-changing admin operation that succeeds leaves one row: the actor
is the admin key's fingerprint (``admin-key:<12 hex>``, plus the CLI user when
``teamgate reload`` made the call), a ``tga_`` credential's role and name
(``team-admin:<name>``) or a single sign-on user (``sso:<name>``); the source is
the client address. What a row holds per operation is described here; an
operation without a description still leaves a row (its operation id and path
parameters). Dashboard sign-in and sign-out leave one row each, naming who signed
in the same way, with the session's fingerprint, role and teams in ``after``.

>>> describe("revokeKey", {"name": "chatbot-prod-web"}, {"state": "revoked"})[:2]
('keys.revoke', 'chatbot-prod-web')
"""

from __future__ import annotations

import logging
import re
from typing import Any

from teamgate.admin.access import Principal
from teamgate.auth.throttle import client_address
from teamgate.config.schema import Settings
from teamgate.config.visible import changed, visible_values
from teamgate.http.asgi import Scope, header
from teamgate.ledger.audit_records import AuditEntry, fingerprint
from teamgate.runtime import Gateway

log = logging.getLogger("teamgate.audit")

ACTOR_HINT = b"x-teamgate-actor"  # sent by the CLI (``cli:user@host``) with its admin calls
_HINT_TEXT = re.compile(r"cli:[\w.@-]{1,100}")
_KEY_FIELDS = (
    "team",
    "environment",
    "purpose",
    "fingerprint",
    "expires_at",
    "state",
    "budget_usd",
)

Described = tuple[str, str, dict[str, Any], dict[str, Any]]


def _key_view(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        return {}
    return {k: body[k] for k in _KEY_FIELDS if k in body}  # never the secret


def describe(operation_id: str, params: dict[str, str], body: Any) -> Described:
    """(action, target, before, after) of one successful operation."""
    if operation_id == "createKey":
        return "keys.create", str(body.get("name", "")), {}, _key_view(body)
    if operation_id == "revokeKey":
        return "keys.revoke", params.get("name", ""), {"state": "active"}, _key_view(body)
    if operation_id == "rotateKey":
        old, new = body.get("old", {}), body.get("new", {})
        return "keys.rotate", params.get("name", ""), _key_view(old), _key_view(new)
    if operation_id == "pauseScope":
        after = {k: body.get(k) for k in ("reason", "until", "actor")}
        return "pause", str(body.get("scope", "")), {}, after
    if operation_id == "resumeScope":
        return "resume", str(body.get("scope", "")), {"reason": body.get("reason")}, {}
    target = ",".join(f"{k}={v}" for k, v in sorted(params.items()))
    return operation_id, target, {}, {}


def admin_actor(scope: Scope, admin_key: str) -> str:
    actor = f"admin-key:{fingerprint(admin_key)}"
    hint = header(scope, ACTOR_HINT)
    if hint is not None:
        text = hint.decode("latin-1")
        if _HINT_TEXT.fullmatch(text):
            actor += f" ({text})"
    return actor


def operation_actor(scope: Scope, admin_key: str, who: Principal | None) -> str:
    """Who did it: the admin key's fingerprint, a ``tga_`` credential's role and *name*
    (never the secret), or a single sign-on user's name.

    >>> operation_actor({}, "k", Principal.org_admin([], "ana@example.com").signed_in_with_sso())
    'sso:ana@example.com'
    """
    if who is not None and who.sso:
        return f"sso:{who.name}"
    if who is None or who.role == "org-admin":
        return admin_actor(scope, admin_key)
    return f"{who.role}:{who.name}"


async def record_operation(
    gw: Gateway,
    scope: Scope,
    admin_key: str,
    operation_id: str,
    params: dict[str, str],
    body: Any,
    settings_before: Settings,
    who: Principal | None = None,
) -> None:
    """One row for a successful state-changing admin operation."""
    if operation_id == "reload":
        before, after = changed(visible_values(settings_before), visible_values(gw.settings))
        entry = AuditEntry.new(
            operation_actor(scope, admin_key, who),
            "config.reload",
            str(gw.config_path or ""),
            before=before,
            after=after,
            source=client_address(scope),
        )
    else:
        action, target, before_v, after_v = describe(operation_id, params, body)
        entry = AuditEntry.new(
            operation_actor(scope, admin_key, who),
            action,
            target,
            before=before_v,
            after=after_v,
            source=client_address(scope),
        )
    await _append(gw, entry)


async def record_dashboard(
    gw: Gateway, scope: Scope, admin_key: str, action: str, session: str, who: Principal
) -> None:
    """``dashboard.sign_in`` / ``dashboard.sign_out`` of one session, naming who (as
    :func:`operation_actor` does) and the session's fingerprint (never the id or a token)."""
    after: dict[str, Any] = {"session": fingerprint(session), "role": who.role_name}
    if not who.org:
        after["teams"] = list(who.teams)
    entry = AuditEntry.new(
        operation_actor(scope, admin_key, who),
        action,
        "dashboard",
        after=after,
        source=client_address(scope),
    )
    await _append(gw, entry)


async def _append(gw: Gateway, entry: AuditEntry) -> None:
    assert gw.store is not None
    await gw.store.append_audit(entry)
    log.info("audit: %s %s %s by %s", entry.action, entry.target, entry.after, entry.actor)
