"""Talking to a running gateway's admin API from the CLI (``reload``, ``usage``, ``upstream``).

The address comes from the config (``server.admin_host/admin_port``, else the
proxy's), the key from the variable named by ``admin.key_env``.
"""

from __future__ import annotations

import argparse
import os
import urllib.error
import urllib.request
from typing import Any

import orjson

from teamgate.config.schema import Settings
from teamgate.ledger.audit_records import cli_actor


def add_url(parser: argparse.ArgumentParser) -> None:
    """``--url``: the running gateway's admin address, for a gateway not on the config's."""
    parser.add_argument(
        "--url",
        metavar="URL",
        help="the running gateway's admin address, e.g. http://127.0.0.1:9000 "
        "(default: server.admin_host/admin_port, else server.host/port, from the config)",
    )


class AdminUnavailable(Exception):
    """The gateway could not be asked: no key, not running, or it refused (message says)."""


def admin_url(settings: Settings) -> str:
    server = settings.server
    host = server.admin_host or server.host
    if host in ("0.0.0.0", "::"):  # noqa: S104 - where it listens, not an address to bind
        host = "127.0.0.1"
    return f"http://{host}:{server.admin_port or server.port}"


def call_admin(
    settings: Settings, method: str, path: str, *, url: str | None = None, timeout_s: float = 10
) -> dict[str, Any]:
    """One admin API call; its JSON answer, or :class:`AdminUnavailable`."""
    key = os.environ.get(settings.admin.key_env, "")
    if not key:
        raise AdminUnavailable(f"set {settings.admin.key_env} to the admin key")
    base = (url or admin_url(settings)).rstrip("/")
    request = urllib.request.Request(  # noqa: S310 - an http(s) URL from the config
        base + path,
        method=method,
        headers={
            "authorization": f"Bearer {key}",
            "content-type": "application/json",
            "x-teamgate-actor": cli_actor(),  # named in the gateway's audit row
        },
        data=b"{}" if method == "POST" else None,
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as resp:  # noqa: S310
            answer: dict[str, Any] = orjson.loads(resp.read())
            return answer
    except urllib.error.HTTPError as exc:
        detail = orjson.loads(exc.read() or b"{}").get("error", {}).get("message", "")
        raise AdminUnavailable(f"refused ({exc.code}): {detail}") from None
    except OSError as exc:
        raise AdminUnavailable(f"cannot reach the gateway at {base}: {exc}") from None
