"""Every command of the ``teamgate`` CLI, read from its argument parser (``teamgate keys
create`` and the like)."""

from __future__ import annotations

import argparse


def cli_commands(parser: argparse.ArgumentParser, prefix: str = "teamgate") -> list[str]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append(f"{prefix} {name}")
                found += cli_commands(sub, f"{prefix} {name}")
    return found
