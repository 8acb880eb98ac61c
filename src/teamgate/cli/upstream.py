"""``teamgate upstream status | rotate | retire``: Groq keys, rotated in one command.

Secrets are never printed: keys appear by name and fingerprint (``gsk_…abcd``),
and their secret by reference (``env:NAME``, ``aws-sm:…``).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from typing import Any

import orjson

from teamgate.auth.keys import parse_duration
from teamgate.cli.admin_client import AdminUnavailable, add_url, call_admin
from teamgate.cli.audit import record_cli
from teamgate.cli.options import add_config, fail, settings_from, with_store
from teamgate.config.schema import Settings
from teamgate.ledger.store import Store
from teamgate.secrets import SecretResolver
from teamgate.text.display import iso_time
from teamgate.text.display import when as display_when
from teamgate.text.table import render_table
from teamgate.upstream.operations import (
    KeyStatus,
    OperationRefused,
    Retirement,
    Rotation,
    ago,
    key_status,
    retire,
    rotate,
    when,
)


def add_commands(sub: Any) -> None:
    up = sub.add_parser("upstream", help="upstream (Groq) keys: status, rotate, retire")
    usub = up.add_subparsers(dest="upstream_command", required=True, metavar="ACTION")

    status = usub.add_parser(
        "status", help="per project and key: state, fingerprint, last use, requests in 24 h"
    )
    add_config(status)
    status.add_argument("--json", action="store_true")
    add_url(status)
    status.set_defaults(func=cmd_status)

    rot = usub.add_parser(
        "rotate",
        help="check a new Groq key, make it the project's preferred key, drain the old one",
    )
    add_config(rot)
    rot.add_argument("--project", required=True, help="the Groq Project (e.g. chatbot-prod)")
    rot.add_argument("--name", required=True, help="the new key's name, e.g. chatbot-prod-2026-05")
    rot.add_argument(
        "--secret", required=True, metavar="REF", help="env:NAME, file:/path, aws-sm:…, gcp-sm:…"
    )
    rot.add_argument("--json", action="store_true", help="print the JSON of docs/cli.md")
    rot.set_defaults(func=cmd_rotate)

    ret = usub.add_parser("retire", help="retire a key once it has been idle for the quiet period")
    add_config(ret)
    ret.add_argument("--name", required=True)
    ret.add_argument("--force", action="store_true", help="retire even if it was used recently")
    ret.add_argument(
        "--quiet-period", default="24h", metavar="DURATION", help="idle time required (24h)"
    )
    ret.add_argument("--json", action="store_true", help="print the JSON of docs/cli.md")
    ret.set_defaults(func=cmd_retire)


def cmd_status(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    now = time.time()

    async def fetch(store: Store) -> list[KeyStatus]:
        return await key_status(settings, store, now, SecretResolver(os.environ))

    rows = with_store(settings, fetch)
    if any(r.fingerprint == "?" for r in rows):
        # A key never used whose secret this shell cannot read: the running gateway can.
        known = _gateway_fingerprints(settings, args.url)
        rows = [
            dataclasses.replace(r, fingerprint=known.get(r.name, "?"))
            if r.fingerprint == "?"
            else r
            for r in rows
        ]
    if args.json:
        out = [
            {
                "project": r.project,
                "key": r.name,
                "state": r.state,
                "fingerprint": r.fingerprint,
                "secret_ref": r.secret_ref,
                "in_config": r.declared,
                "requests": r.requests,
                "requests_24h": r.requests_24h,
                "failures": r.failures,
                "first_used_at": iso_time(r.first_used_at),
                "last_used_at": iso_time(r.last_used_at),
            }
            for r in rows
        ]
        print(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
        return 0
    header = (
        "project",
        "key",
        "state",
        "fingerprint",
        "last used",
        "requests 24h",
        "requests",
        "failures",
    )
    table = [header] + [
        (
            r.project,
            r.name + ("" if r.declared else " *"),
            r.state,
            r.fingerprint,
            "never"
            if r.last_used_at is None
            else f"{display_when(r.last_used_at)} ({ago(now - r.last_used_at)})",
            f"{r.requests_24h:,}",
            f"{r.requests:,}",
            f"{r.failures:,}",
        )
        for r in rows
    ]
    print("\n".join(render_table(table[0], table[1:], right={5, 6, 7})))
    if any(not r.declared for r in rows):
        print(
            "* added by `teamgate upstream rotate` (kept in the store; add it to the config file)"
        )
    return 0


def _gateway_fingerprints(settings: Settings, url: str | None) -> dict[str, str]:
    """Key name → fingerprint as the running gateway knows them; empty if it does not answer."""
    try:
        answer = call_admin(settings, "GET", "/admin/upstream", url=url, timeout_s=3)
    except AdminUnavailable:
        return {}
    return {
        k["name"]: k["fingerprint"]
        for p in answer.get("projects", [])
        for k in p.get("keys", [])
        if k.get("fingerprint") not in (None, "", "?")
    }


def cmd_rotate(args: argparse.Namespace) -> int:
    settings = settings_from(args)

    async def work(store: Store) -> Rotation:
        done = await rotate(
            settings,
            store,
            project=args.project,
            name=args.name,
            secret_ref=args.secret,
            resolver=SecretResolver(os.environ),
        )
        after = {"project": done.project, "state": "active", "fingerprint": done.fingerprint}
        await record_cli(
            store, "upstream.rotate", done.name, after=after | {"draining": done.draining}
        )
        return done

    try:
        done = with_store(settings, work, create=True)
    except OperationRefused as exc:
        return fail(str(exc), 1)
    if args.json:
        out = {
            "project": done.project,
            "key": done.name,
            "fingerprint": done.fingerprint,
            "draining": list(done.draining),
        }
        print(orjson.dumps(out).decode())
        return 0
    print(f"Groq accepted {done.name} ({done.fingerprint}).")
    print(f"{done.name} is now the preferred active key of project {done.project}.")
    if done.draining:
        print(f"Draining (used only if {done.name} fails): {', '.join(done.draining)}.")
    print("Running gateways switch within 2 seconds; nothing restarts.")
    for old in done.draining:
        print(
            f"When it has been idle for 24h: teamgate upstream retire --config {args.config or 'F'}"
            f" --name {old}"
        )
    return 0


def cmd_retire(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    try:
        quiet = parse_duration(args.quiet_period)
    except ValueError as exc:
        return fail(str(exc), 1)

    async def work(store: Store) -> Retirement:
        done = await retire(settings, store, name=args.name, quiet_period_s=quiet, force=args.force)
        after = {"state": "retired", "forced": done.forced, "fingerprint": done.fingerprint}
        await record_cli(store, "upstream.retire", done.name, after=after)
        return done

    try:
        done = with_store(settings, work)
    except OperationRefused as exc:
        return fail(f"not retired: {exc}", 1)
    if args.json:
        out = {
            "project": done.project,
            "key": done.name,
            "fingerprint": done.fingerprint,
            "last_used_at": iso_time(done.last_used_at),
            "requests": done.requests,
            "forced": done.forced,
        }
        print(orjson.dumps(out).decode())
        return 0
    if done.last_used_at is None:
        idle = "it never served a request"
    else:
        idle = (
            f"idle since {when(done.last_used_at)} ({ago(time.time() - done.last_used_at)}), "
            f"{done.requests} requests in all"
        )
    forced = " (forced)" if done.forced else ""
    print(f"Retired {done.name} ({done.fingerprint}){forced}: {idle}.")
    print("Running gateways stop using it within 2 seconds.")
    print(f"Left to do by hand: delete the key in the Groq Console, Project {done.project}.")
    return 0
