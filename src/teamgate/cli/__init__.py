"""The ``teamgate`` command: ``serve | demo | keys | check | migrate | simulator | ...``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from teamgate.cli import audit, info, keys, migrate, pause, reload, report, run, schema, upstream
from teamgate.cli.options import LedgerMissing
from teamgate.config.errors import ConfigError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="teamgate",
        description="A team access gateway for Groq's inference API.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run.add_commands(sub)
    keys.add_commands(sub)
    info.add_commands(sub)
    migrate.add_commands(sub)
    upstream.add_commands(sub)
    reload.add_commands(sub)
    report.add_commands(sub)
    schema.add_commands(sub)
    audit.add_commands(sub)
    pause.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"teamgate: config error: {exc}", file=sys.stderr)
        return 2
    except LedgerMissing as exc:
        print(f"teamgate: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return closed_pipe()
    return code


SIGPIPE_EXIT = 141
"""The status of a command whose reader went away (``report export | head``), as a shell's."""


def closed_pipe() -> int:
    """Stop quietly when stdout's reader has gone: no traceback, no second error at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # Python's final flush must not fail again
    os.close(devnull)
    return SIGPIPE_EXIT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
