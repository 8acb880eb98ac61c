"""``teamgate reload``: make a running gateway re-read its config, without a restart.

By default it asks the gateway's admin API (``POST /admin/reload`` with the key in
``admin.key_env``); ``--pid`` sends SIGHUP to a gateway process instead.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import urllib.error
import urllib.request
from typing import Any

import orjson

from teamgate.cli.options import add_config, settings_from


def add_commands(sub: Any) -> None:
    reload = sub.add_parser("reload", help="make a running gateway re-read its config")
    add_config(reload)
    reload.add_argument("--pid", type=int, help="send SIGHUP to this gateway process instead")
    reload.add_argument("--url", help="the gateway's admin address (default: from the config)")
    reload.set_defaults(func=cmd_reload)


def cmd_reload(args: argparse.Namespace) -> int:
    if args.pid:
        os.kill(args.pid, signal.SIGHUP)
        print(f"Sent SIGHUP to {args.pid}.")
        return 0
    settings = settings_from(args)
    server = settings.server
    host = server.admin_host or server.host
    if host in ("0.0.0.0", "::"):  # noqa: S104 - the address it listens on, not one to bind
        host = "127.0.0.1"
    url = args.url or f"http://{host}:{server.admin_port or server.port}"
    key = os.environ.get(settings.admin.key_env, "")
    if not key:
        print(f"teamgate: set {settings.admin.key_env} to the admin key", file=sys.stderr)
        return 2
    request = urllib.request.Request(  # noqa: S310 - an http(s) URL built above
        url.rstrip("/") + "/admin/reload",
        method="POST",
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
        data=b"{}",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
            body = orjson.loads(resp.read())
    except urllib.error.HTTPError as exc:
        detail = orjson.loads(exc.read() or b"{}").get("error", {}).get("message", "")
        print(f"teamgate: reload refused ({exc.code}): {detail}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"teamgate: cannot reach the gateway at {url}: {exc}", file=sys.stderr)
        return 2
    print(
        f"Reloaded {body.get('source') or 'the config'}: teams {', '.join(body.get('teams', []))}."
    )
    return 0
