"""``teamgate reload``: make a running gateway re-read its config, without a restart.

By default it asks the gateway's admin API (``POST /admin/reload`` with the key in
``admin.key_env``); ``--pid`` sends SIGHUP to a gateway process instead.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any

import orjson

from teamgate.cli.admin_client import AdminUnavailable, add_url, call_admin
from teamgate.cli.audit import record_cli
from teamgate.cli.options import add_config, config_path, settings_from, with_store
from teamgate.ledger.store import Store


def add_commands(sub: Any) -> None:
    reload = sub.add_parser("reload", help="make a running gateway re-read its config")
    add_config(reload)
    reload.add_argument("--pid", type=int, help="send SIGHUP to this gateway process instead")
    add_url(reload)
    reload.add_argument("--json", action="store_true", help="print the admin API's answer")
    reload.set_defaults(func=cmd_reload)


def cmd_reload(args: argparse.Namespace) -> int:
    if args.pid:
        os.kill(args.pid, signal.SIGHUP)
        settings = settings_from(args)

        async def audit(store: Store) -> None:
            await record_cli(
                store, "config.reload", str(config_path(args)), after={"pid": args.pid}
            )

        with_store(settings, audit)
        if args.json:
            print(orjson.dumps({"reloaded": True, "signal": "SIGHUP", "pid": args.pid}).decode())
        else:
            print(f"Sent SIGHUP to {args.pid}.")
        return 0
    settings = settings_from(args)
    try:
        body = call_admin(settings, "POST", "/admin/reload", url=args.url)
    except AdminUnavailable as exc:
        print(f"teamgate: reload failed: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(orjson.dumps(body).decode())
        return 0
    print(
        f"Reloaded {body.get('source') or 'the config'}: teams {', '.join(body.get('teams', []))}."
    )
    return 0
