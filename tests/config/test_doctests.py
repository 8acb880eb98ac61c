"""The usage examples in the config modules' docstrings run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "teamgate.config.env_overrides",
    "teamgate.config.fields",
    "teamgate.config.loader",
    "teamgate.config.models",
    "teamgate.config.secret_refs",
    "teamgate.config.sections",
    "teamgate.config.summary",
    "teamgate.config.teams",
    "teamgate.config.validate",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
