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


def with_store(settings: Settings, work: Callable[[Store], Awaitable[T]]) -> T:
    """Open the configured store, run ``work`` with it, close it."""

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
