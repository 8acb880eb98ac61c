"""The docs document every setting and every CLI command (a test fails when one is not).

The README is the five-minute read; the references moved to docs/: settings in
docs/configuration.md, commands in docs/cli.md. The README must link to both.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from teamgate.cli import build_parser
from teamgate.config import schema
from tests.support.cli_commands import cli_commands

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
CONFIGURATION = (ROOT / "docs" / "configuration.md").read_text()
CLI_REFERENCE = (ROOT / "docs" / "cli.md").read_text()

# Fields whose YAML name differs from the dataclass field, and internal fields.
YAML_NAME = {"model_limits": "models"}
INTERNAL = {"source", "name", "teams", "pricing", "pricing_default", "aliases"}


def section_fields() -> list[str]:
    out = []
    for field in dataclasses.fields(schema.Settings):
        if field.name in INTERNAL:
            continue
        section_type = field.default_factory()  # type: ignore[misc]
        for sub in dataclasses.fields(section_type):
            out.append(f"{field.name}.{YAML_NAME.get(sub.name, sub.name)}")
    return out


def team_fields() -> list[str]:
    return [
        f"teams.<team>.{YAML_NAME.get(f.name, f.name)}"
        for f in dataclasses.fields(schema.TeamConfig)
        if f.name != "name"
    ]


def environment_fields() -> list[str]:
    return [
        f"teams.<team>.environments.<env>.{f.name}"
        for f in dataclasses.fields(schema.EnvironmentConfig)
        if f.name != "name"
    ]


def test_every_setting_is_documented() -> None:
    missing = [
        key
        for key in section_fields() + team_fields() + environment_fields()
        if f"`{key}" not in CONFIGURATION and key not in CONFIGURATION
    ]
    assert missing == []


def test_every_limit_is_documented() -> None:
    for field in dataclasses.fields(schema.Limits):
        assert f"`{field.name}`" in CONFIGURATION, field.name


def test_every_cli_command_is_documented() -> None:
    missing = [cmd for cmd in cli_commands(build_parser()) if f"`{cmd}" not in CLI_REFERENCE]
    assert missing == []


def _options(parser: argparse.ArgumentParser, prefix: str = "teamgate") -> list[tuple[str, str]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _options(sub, f"{prefix} {name}")
        elif action.option_strings and action.dest not in ("help", "config"):
            found.append((prefix, max(action.option_strings, key=len)))
    return found


def test_every_cli_option_is_documented() -> None:
    """Each option appears in its command's row of docs/cli.md."""
    rows = {
        line.split("`")[1].split(" [")[0].split(" --")[0].split(" NAME")[0]: line
        for line in CLI_REFERENCE.splitlines()
        if line.startswith("| `teamgate ")
    }
    missing = [
        f"{cmd} {opt}"
        for cmd, opt in _options(build_parser())
        if cmd in rows and opt not in rows[cmd]
    ]
    assert missing == []


def test_readme_is_short_and_links_the_references() -> None:
    assert len(README.splitlines()) <= 150
    for doc in ("configuration", "cli", "operations", "deployment", "benchmark", "architecture"):
        assert f"](docs/{doc}.md)" in README, doc
    assert "TEAMGATE_ADMIN_KEY" in README.split("## Every day", 1)[0]


def test_quick_start_has_exactly_two_commands() -> None:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line for line in block.strip().splitlines() if line.strip()]
    assert len(commands) == 2
    assert all(Path(Path(__file__).resolve().parents[2], c.split()[0]).exists() for c in commands)
