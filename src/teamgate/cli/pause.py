"""``teamgate pause`` and ``teamgate resume``: the kill switch for a team, an
environment or one key (see :mod:`teamgate.auth.pauses`).

    teamgate pause chatbot --reason "runaway job" --until 2h
    teamgate pause chatbot/staging --reason "load test"
    teamgate pause --key chatbot-prod-web --reason "leaked in a log"
    teamgate resume chatbot

Running gateways answer the scope's requests 403 ``scope_paused`` within 2 s. Each
command leaves an audit row and sends a ``paused`` / ``resumed`` alert.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import orjson

from teamgate.auth.keys import parse_duration
from teamgate.auth.pauses import (
    alert_fields,
    check_target,
    make_pause,
    pause_json,
    paused_text,
    resumed_text,
    scope_of,
)
from teamgate.cli.audit import record_cli
from teamgate.cli.options import add_config, fail, settings_from, with_store
from teamgate.config.schema import Settings
from teamgate.ledger.audit_records import cli_actor
from teamgate.ledger.pause_records import Pause
from teamgate.ledger.store import Store
from teamgate.observability.alerts import AlertManager
from teamgate.secrets import SecretResolver


def _add_target(parser: argparse.ArgumentParser) -> None:
    add_config(parser)
    parser.add_argument("target", nargs="?", metavar="TEAM[/ENV]", help="a team or TEAM/ENV")
    parser.add_argument("--key", metavar="NAME", help="a client key instead of a team")
    parser.add_argument("--json", action="store_true", help="print the pause as JSON")


def add_commands(sub: Any) -> None:
    pause = sub.add_parser(
        "pause",
        help="stop a team, TEAM/ENV or --key NAME now (403 scope_paused within 2 s)",
    )
    _add_target(pause)
    pause.add_argument("--reason", required=True, help="why (shown to the team's clients)")
    pause.add_argument("--until", metavar="DURATION", help="e.g. 2h, 1d (default: until resumed)")
    pause.set_defaults(func=cmd_pause)

    resume = sub.add_parser("resume", help="lift a pause set by teamgate pause")
    _add_target(resume)
    resume.set_defaults(func=cmd_resume)


def _scope(args: argparse.Namespace) -> str | None:
    if (args.target is None) == (args.key is None):
        return None
    return scope_of(args.target, key=args.key)


async def _alert(settings: Settings, store: Store, event: str, text: str, fields: Any) -> None:
    alerts = AlertManager(
        settings, store, secrets=SecretResolver(os.environ), retry_attempts=3, retry_base_s=0.5
    )
    alerts.notify(event, text, fields)
    await alerts.close(timeout_s=3.0)


def cmd_pause(args: argparse.Namespace) -> int:
    scope = _scope(args)
    if scope is None:
        return fail("name one of TEAM, TEAM/ENV or --key NAME")
    settings = settings_from(args)
    actor = cli_actor()
    try:
        until_s = parse_duration(args.until) if args.until else None
        pause = make_pause(scope, args.reason, until_s, actor, time.time())
    except ValueError as exc:
        return fail(str(exc))

    async def work(store: Store) -> str | None:
        problem = await check_target(store, settings, scope)
        if problem is not None:
            return problem
        before = await store.set_pause(pause)
        await record_cli(
            store,
            "pause",
            scope,
            before=pause_json(before) if before else {"state": "running"},
            after=pause_json(pause),
        )
        await _alert(settings, store, "paused", paused_text(pause), alert_fields(pause, actor))
        return None

    problem = with_store(settings, work)
    if problem is not None:
        return fail(problem)
    if args.json:
        print(orjson.dumps(pause_json(pause)).decode())
    else:
        print(f"Paused {scope}. Running gateways refuse its requests within 2 seconds.")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    scope = _scope(args)
    if scope is None:
        return fail("name one of TEAM, TEAM/ENV or --key NAME")
    settings = settings_from(args)
    actor = cli_actor()

    async def work(store: Store) -> Pause | None:
        removed = await store.clear_pause(scope)
        if removed is not None:
            await record_cli(
                store, "resume", scope, before=pause_json(removed), after={"state": "running"}
            )
            await _alert(
                settings,
                store,
                "resumed",
                resumed_text(removed, actor),
                alert_fields(removed, actor, expired=False),
            )
        return removed

    removed = with_store(settings, work)
    if removed is None:
        return fail(f"{scope} is not paused")
    if args.json:
        print(orjson.dumps({**pause_json(removed), "active": False}).decode())
    else:
        print(f"Resumed {scope}. Running gateways serve it again within 2 seconds.")
    return 0


__all__ = ["add_commands"]
