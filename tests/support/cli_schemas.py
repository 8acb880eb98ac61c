"""The JSON Schemas docs/cli.md documents for each ``--json`` output, and the check of an
output against its schema."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson

CLI_DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
_BLOCK = re.compile(r"<!-- json-schema: ([a-z-]+) -->\n```json\n(.*?)\n```", re.S)


def documented_schemas() -> dict[str, dict[str, Any]]:
    return {name: orjson.loads(body) for name, body in _BLOCK.findall(CLI_DOC.read_text())}


def check(schema: str, value: Any) -> None:
    jsonschema_rs.validate(documented_schemas()[schema], value)
