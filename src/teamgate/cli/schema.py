"""``teamgate schema``: the JSON Schema of ``teamgate.yaml``, for editors and CI linters.

Generated from the loader's own definitions (:mod:`teamgate.config.json_schema`);
the repository publishes its output as ``teamgate.schema.json``.

    teamgate schema > teamgate.schema.json
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from teamgate.config.json_schema import settings_schema


def add_commands(sub: Any) -> None:
    parser = sub.add_parser("schema", help="print the JSON Schema of teamgate.yaml")
    parser.set_defaults(func=cmd_schema)


def render_schema() -> str:
    """The schema as published: 2-space indented JSON and a final newline."""
    return json.dumps(settings_schema(), indent=2, ensure_ascii=False) + "\n"


def cmd_schema(args: argparse.Namespace) -> int:
    print(render_schema(), end="")
    return 0
