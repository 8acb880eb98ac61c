"""The config's values as the audit trail may show them: flat, textual, with no secret.

URLs (they may carry passwords or webhook tokens), secret references and the
file the config came from are left out; everything else (budgets, limits,
allowlists, prices, thresholds, server settings) is shown by its key path.

>>> from teamgate.config.schema import Settings
>>> values = visible_values(Settings(teams={}))
>>> values["server.port"], "storage.url" in values, "alerts.webhook_url" in values
('8080', False, False)
>>> changed({"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "4"})
({'b': '2', 'c': None}, {'b': '3', 'c': '4'})
"""

from __future__ import annotations

import dataclasses
from typing import Any

_HIDDEN_WORDS = ("url", "secret", "source", "key_env", "token_env", "password")


def _hidden(path: str) -> bool:
    last = path.rsplit(".", 1)[-1]
    return any(word in last for word in _HIDDEN_WORDS)


def visible_values(settings: Any) -> dict[str, str]:
    """``{"teams.chatbot.monthly_budget_usd": "200", ...}`` for every non-secret value."""
    out: dict[str, str] = {}
    _walk(settings, "", out)
    return out


def _walk(value: Any, path: str, out: dict[str, str]) -> None:
    if path and _hidden(path):
        return
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            _walk(getattr(value, field.name), f"{path}.{field.name}" if path else field.name, out)
    elif isinstance(value, dict):
        for key, item in value.items():
            _walk(item, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, tuple | list) and any(dataclasses.is_dataclass(v) for v in value):
        for index, item in enumerate(value):
            _walk(item, f"{path}[{index}]", out)
    else:
        out[path] = _text(value)


def _text(value: Any) -> str:
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    return "null" if value is None else str(value)


def changed(
    before: dict[str, str], after: dict[str, str]
) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """The values that differ: (their old values, their new values); None for absent."""
    keys = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}
