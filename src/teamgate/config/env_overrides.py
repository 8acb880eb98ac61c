"""``TEAMGATE_<SECTION>__<FIELD>`` environment variables that override single fields.

``__`` separates the key path, names are case-insensitive, values are YAML
scalars (``9001``, ``true``, ``null``, ``0.5``; flow lists such as
``[0.5, 0.9]`` work too). Overrides are applied to the raw mapping before
validation, so a bad value is reported with its key path and the variable.
Variables without ``__`` (``TEAMGATE_CONFIG``, ``TEAMGATE_ADMIN_KEY``) are not
overrides.

>>> data = {"server": {"port": 8080}}
>>> apply_env_overrides(data, {"TEAMGATE_SERVER__PORT": "9001", "TEAMGATE_CONFIG": "x.yaml"})
{'server.port': 'TEAMGATE_SERVER__PORT'}
>>> data
{'server': {'port': 9001}}
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

import yaml

from teamgate.config.errors import ConfigError
from teamgate.config.fields import child

PREFIX = "TEAMGATE_"
SEPARATOR = "__"
# Mappings whose keys are names the operator chose: an override may set one
# such entry outright, but not reach inside one that the file does not define.
_NAMED_COLLECTIONS = (
    ("teams",),
    ("teams", "*", "environments"),
    ("teams", "*", "models"),
    ("org", "models"),
    ("pricing",),
    ("aliases",),
)


def override_paths(env: Mapping[str, str]) -> list[tuple[str, list[str]]]:
    """``(variable, lowercased key parts)`` for each override in ``env``, sorted."""
    found = []
    for variable in sorted(env):
        if not variable.upper().startswith(PREFIX):
            continue
        rest = variable[len(PREFIX) :]
        if SEPARATOR not in rest:
            continue
        found.append((variable, [part.lower() for part in rest.split(SEPARATOR)]))
    return found


def parse_value(text: str) -> Any:
    """A YAML scalar, or a flow collection (``[...]``, ``{...}``); anything else is the text.

    ``sqlite://:memory:`` stays a string although YAML would read a mapping.
    """
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, list | dict) and not text.lstrip().startswith(("[", "{")):
        return text
    return value


def apply_env_overrides(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """Set each override in ``data`` (in place); return ``{key path: variable}``."""
    origins: dict[str, str] = {}
    for variable, parts in override_paths(env):
        if any(not part for part in parts):
            raise ConfigError(variable, "has an empty key between '__' separators")
        node: dict[str, Any] = data
        path = ""
        walked: list[str] = []
        for depth, part in enumerate(parts):
            key = _existing_key(node, part)
            if depth == len(parts) - 1:
                node[key] = parse_value(env[variable])
            else:
                node = _descend(node, key, path, walked, variable)
            path = child(path, key)
            walked.append(key)
        origins[path] = variable
    return origins


def _existing_key(node: Mapping[str, Any], part: str) -> str:
    if part in node:
        return part
    for key in node:
        if isinstance(key, str) and key.lower() == part:
            return key
    return part


def _is_named_collection(walked: list[str]) -> bool:
    return any(
        len(pattern) == len(walked)
        and all(p in ("*", w) for p, w in zip(pattern, walked, strict=True))
        for pattern in _NAMED_COLLECTIONS
    )


def _descend(
    node: dict[str, Any], key: str, path: str, walked: list[str], variable: str
) -> dict[str, Any]:
    target = child(path, key)
    if key not in node and _is_named_collection(walked):
        names = [str(name) for name in node]
        close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ConfigError(
            target, f"is not in the config file, so {variable} cannot change it{hint}"
        )
    value = node.get(key)
    if value is None:
        value = node[key] = {}
    if not isinstance(value, dict):
        raise ConfigError(target, f"is not a mapping, so {variable} cannot set a key inside it")
    return value
