"""``teamgate keys create | list | revoke | rotate``: team keys, stored hashed."""

from __future__ import annotations

import argparse
import time
from typing import Any

import orjson

from teamgate.auth.keys import (
    CREDENTIAL_ROLES,
    DEFAULT_ROTATION_GRACE,
    key_json,
    key_state,
    new_client_key,
    new_credential,
    parse_budget,
    parse_duration,
    rotate_client_key,
)
from teamgate.cli.audit import record_cli
from teamgate.cli.options import add_config, fail, settings_from, with_store
from teamgate.ledger.records import ClientKey
from teamgate.ledger.store import Store
from teamgate.pricing.money import exact_usd
from teamgate.text.display import iso_time, when
from teamgate.text.table import render_table


def add_commands(sub: Any) -> None:
    keys = sub.add_parser(
        "keys",
        help="create, list, revoke and rotate team keys",
        description="Team keys ({team}-{environment}-{purpose}), stored hashed.",
    )
    ksub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")

    create = ksub.add_parser("create", help="issue a key {team}-{env}-{purpose}; prints it once")
    add_config(create)
    create.add_argument("--team", required=True)
    create.add_argument("--env", help="an environment of the team (client keys)")
    create.add_argument("--purpose", required=True, help="what the key is for, e.g. web")
    create.add_argument(
        "--role",
        choices=("client", *CREDENTIAL_ROLES),
        default="client",
        help="client: a tg_ key for the proxy (default); team-admin or viewer: a tga_ "
        "credential for the admin API and dashboard, limited to --team",
    )
    create.add_argument("--expires", metavar="DURATION", help="e.g. 30d, 12h (default: never)")
    create.add_argument(
        "--budget",
        metavar="USD",
        help="the key's own monthly budget in USD, e.g. 25 (client keys; default: none, the "
        "environment's, team's and org's budgets still apply)",
    )
    create.add_argument("--json", action="store_true", help='print {"name": ..., "key": ...}')
    create.set_defaults(func=cmd_create)

    listing = ksub.add_parser("list", help="list keys (never shows a secret)")
    add_config(listing)
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_list)

    revoke = ksub.add_parser("revoke", help="revoke a key; a running gateway refuses it within 2 s")
    add_config(revoke)
    revoke.add_argument("name")
    revoke.add_argument("--json", action="store_true", help="print the key as keys list --json")
    revoke.set_defaults(func=cmd_revoke)

    rotate = ksub.add_parser(
        "rotate", help="issue a successor under the same name; the old key works for --grace"
    )
    add_config(rotate)
    rotate.add_argument("name")
    rotate.add_argument(
        "--grace",
        default=DEFAULT_ROTATION_GRACE,
        metavar="DURATION",
        help=f"how long the old key keeps working ({DEFAULT_ROTATION_GRACE})",
    )
    rotate.add_argument("--json", action="store_true", help='print {"name", "key", "old_name", …}')
    rotate.set_defaults(func=cmd_rotate)


def cmd_create(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    team = settings.teams.get(args.team)
    if team is None:
        return fail(f"unknown team {args.team!r}; teams: {', '.join(sorted(settings.teams))}")
    if args.role != "client" and args.budget is not None:
        return fail("--budget is for client keys (a credential spends nothing)")
    if args.role != "client":
        try:
            expires = parse_duration(args.expires) if args.expires else None
            record, secret = new_credential(
                args.team, args.role, args.purpose, expires_in_s=expires
            )
        except ValueError as exc:
            return fail(str(exc))
    elif args.env not in team.environments:
        return fail(
            f"team {args.team!r} has no environment {args.env!r}; "
            f"environments: {', '.join(sorted(team.environments))}"
        )
    else:
        try:
            expires = parse_duration(args.expires) if args.expires else None
            budget = None if args.budget is None else parse_budget(args.budget)
            record, secret = new_client_key(
                args.team, args.env, args.purpose, expires_in_s=expires, budget_pusd=budget
            )
        except ValueError as exc:
            return fail(str(exc))

    async def add(store: Store) -> None:
        await store.add_client_key(record)
        await record_cli(store, "keys.create", record.name, after=_key_view(record))

    try:
        with_store(settings, add, create=True)
    except KeyError:
        return fail(
            f"a live key named {record.name!r} exists; revoke it first or pick another purpose"
        )
    if args.json:
        print(orjson.dumps({"name": record.name, "key": secret}).decode())
    else:
        where = f"environment {args.env}" if args.role == "client" else f"role {args.role}"
        print(f"Created key {record.name} for team {args.team}, {where}.")
        print("Store it now; it is not shown again:")
        print(secret)
    return 0


def _key_view(key: Any) -> dict[str, Any]:
    """What the audit trail keeps of a key: never its secret or hash."""
    view = {"team": key.team, "environment": key.environment, "purpose": key.purpose}
    view |= {"fingerprint": key.fingerprint, "expires_at": key.expires_at}
    view |= {"budget_usd": exact_usd(key.budget_pusd)}
    return view | {"revoked_at": key.revoked_at}


def cmd_list(args: argparse.Namespace) -> int:
    settings = settings_from(args)

    async def fetch(store: Store) -> list[Any]:
        return await store.list_client_keys(include_revoked=args.all)

    keys = with_store(settings, fetch)
    now = time.time()
    if args.json:
        print(orjson.dumps([key_json(k, now) for k in keys], option=orjson.OPT_INDENT_2).decode())
        return 0
    header = ("name", "team", "env", "purpose", "fingerprint", "created", "expires", "last used")
    rows_t = [
        (
            k.name,
            k.team,
            k.environment,
            k.purpose,
            k.fingerprint,
            when(k.created_at),
            when(k.expires_at),
            when(k.last_used_at),
            key_state(k, now),
        )
        for k in keys
    ]
    print("\n".join(render_table((*header, "state"), rows_t)))
    if not rows_t:
        print("(no keys)")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    settings = settings_from(args)

    now = time.time()

    async def revoke(store: Store) -> ClientKey | None:
        if not await store.revoke_client_key(args.name, now):
            return None
        key = await store.get_client_key(args.name)
        after = _key_view(key) if key else {}
        await record_cli(store, "keys.revoke", args.name, before={"state": "active"}, after=after)
        return key

    key = with_store(settings, revoke)
    if key is None:
        return fail(f"no live key named {args.name!r}")
    if args.json:
        print(orjson.dumps(key_json(key, now), option=orjson.OPT_INDENT_2).decode())
        return 0
    print(f"Revoked {args.name}. Running gateways refuse it within 2 seconds.")
    return 0


def cmd_rotate(args: argparse.Namespace) -> int:
    """Successor under the same name; the old key renamed ``NAME@rotated-<date>``, expiring."""
    settings = settings_from(args)
    try:
        grace = parse_duration(args.grace)
    except ValueError as exc:
        return fail(str(exc))

    async def work(store: Store) -> tuple[Any, str, str, float] | None:
        done = await rotate_client_key(store, args.name, grace_s=grace)
        if done is not None:
            after = {**_key_view(done[0]), "old_name": done[2], "old_expires_at": done[3]}
            await record_cli(store, "keys.rotate", args.name, after=after)
        return done

    try:
        done = with_store(settings, work)
    except KeyError as exc:
        return fail(str(exc.args[0]))
    if done is None:
        return fail(f"no live key named {args.name!r}")
    record, secret, old_name, old_expires = done
    if args.json:
        out = {
            "name": record.name,
            "key": secret,
            "old_name": old_name,
            "old_expires_at": iso_time(old_expires),
        }
        print(orjson.dumps(out).decode())
        return 0
    print(f"Issued a successor for {record.name}. Store it now; it is not shown again:")
    print(secret)
    print(
        f"The old key is now listed as {old_name} (in-grace) "
        f"and stops working at {when(old_expires)}."
    )
    return 0
