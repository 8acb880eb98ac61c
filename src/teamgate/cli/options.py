"""Options shared by the subcommands, and how they turn into settings and a store."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from teamgate.config.loader import example_config_path, load_settings
from teamgate.config.paths import sqlite_file
from teamgate.config.schema import Settings
from teamgate.ledger import open_store
from teamgate.ledger.store import Store

T = TypeVar("T")


def add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        "-c",
        metavar="FILE",
        help="YAML config (default: $TEAMGATE_CONFIG, else ./teamgate.yaml, else the example)",
    )


def config_path(args: argparse.Namespace) -> Path:
    if args.config:
        return Path(args.config)
    if os.environ.get("TEAMGATE_CONFIG"):
        return Path(os.environ["TEAMGATE_CONFIG"])
    local = Path("teamgate.yaml")
    return local if local.exists() else example_config_path()


def settings_from(args: argparse.Namespace) -> Settings:
    return load_settings(config_path(args), os.environ)


class LedgerMissing(Exception):
    """The config names a SQLite ledger file that does not exist (and nothing may create it)."""


def with_store(
    settings: Settings, work: Callable[[Store], Awaitable[T]], *, create: bool = False
) -> T:
    """Open the configured store, run ``work`` with it, close it.

    A command that only reads (``usage``, ``report``, ``keys list`` …) raises
    :class:`LedgerMissing` rather than create an empty SQLite ledger and report
    zeros from it; ``create=True`` (``keys create``, ``serve``) may create it.
    """
    file = sqlite_file(settings.storage.url)
    if not create and file is not None and not file.exists():
        raise LedgerMissing(
            f"no ledger at {file} (storage.url in {settings.source or 'the config'}); "
            "check --config, or run `teamgate serve` or `teamgate keys create` to start one"
        )

    async def go() -> T:
        store = open_store(settings.storage.url)
        await store.open()
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(go())


def fail(message: str, code: int = 2) -> int:
    """Say what went wrong on stderr; the exit status to return."""
    print(f"teamgate: {message}", file=sys.stderr)
    return code
