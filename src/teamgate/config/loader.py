"""Loading teamgate's configuration: one YAML file plus ``TEAMGATE_*`` overrides.

>>> settings = load_settings(example_config_path(), env={"TEAMGATE_SERVER__PORT": "9001"})
>>> settings.server.port, sorted(settings.teams)
(9001, ['analytics', 'chatbot', 'research'])

Which file: ``path`` if given, else ``$TEAMGATE_CONFIG``, else the packaged
example (:func:`example_config_path`). Relative paths in the file (a
``sqlite:///`` ledger, ``file:`` secrets) are relative to the file's folder
(:mod:`teamgate.config.paths`); one set by a ``TEAMGATE_*`` variable is
relative to the working folder, as the shell that set it means. Problems raise
:class:`~teamgate.config.errors.ConfigError`; ``str(err)`` has one ``key.path: problem``
line per problem, and a validation error's ``source`` attribute names the file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from teamgate.config.env_overrides import apply_env_overrides
from teamgate.config.errors import ConfigError
from teamgate.config.extras import check_settings as check_extras
from teamgate.config.paths import anchor_paths
from teamgate.config.schema import Settings
from teamgate.config.summary import render_summary
from teamgate.config.validate import build_settings, parse_settings

CONFIG_PATH_VARIABLE = "TEAMGATE_CONFIG"
EXAMPLE_FILE_NAME = "teamgate.example.yaml"

__all__ = [
    "CONFIG_PATH_VARIABLE",
    "example_config_path",
    "load_settings",
    "parse_settings",
    "read_config_file",
    "render_summary",
    "resolve_config_path",
]


def example_config_path() -> Path:
    """The packaged ``teamgate.example.yaml`` (the seed organization)."""
    return Path(__file__).resolve().parent.parent / EXAMPLE_FILE_NAME


def resolve_config_path(path: str | Path | None, env: Mapping[str, str] | None = None) -> Path:
    """``path``, else ``$TEAMGATE_CONFIG``, else the packaged example."""
    environ = os.environ if env is None else env
    if path is not None and str(path):
        return Path(path)
    from_env = environ.get(CONFIG_PATH_VARIABLE, "")
    return Path(from_env) if from_env else example_config_path()


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key written twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                continue  # unhashable; SafeLoader reports it
            if key in seen:
                mark = key_node.start_mark
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice in one mapping", mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_config_file(path: Path) -> Any:
    """The parsed YAML document at ``path``; problems raise ConfigError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("", f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or type(error).__name__
        raise ConfigError("", f"{path}: cannot read the config file: {reason}") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as error:
        # Only the problem and its position: the snippet could hold a pasted key.
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "cannot be parsed"
        raise ConfigError("", f"{path}{where}: not valid YAML: {problem}") from None


def load_settings(path: str | Path | None, env: Mapping[str, str] | None = None) -> Settings:
    """Read, override from ``env`` (default ``os.environ``) and validate a config file.

    Raises :class:`~teamgate.config.errors.ConfigError` on any problem.
    """
    environ = os.environ if env is None else env
    file = resolve_config_path(path, environ)
    data = read_config_file(file)
    if data is None:
        raise ConfigError("", f"{file}: the config file is empty; it needs at least teams:")
    if not isinstance(data, dict):
        raise ConfigError(
            "", f"{file}: the config must be a mapping of sections (teams:, upstream:, ...)"
        )
    origins = apply_env_overrides(data, environ)
    settings = build_settings(data, source=str(file), origins=origins)
    check_extras(settings)  # postgresql:// without asyncpg: one line naming the extra
    if file.resolve() == example_config_path():
        return settings  # inside the package: its relative paths mean the working folder
    return anchor_paths(settings, file.resolve().parent, skip=frozenset(origins))
