"""Every usage example in teamgate's docstrings runs and holds (one runner for all modules)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import teamgate

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(teamgate.__path__, prefix="teamgate.")
    if not info.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_examples_are_found() -> None:
    attempted = sum(
        doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS).attempted
        for name in MODULES
    )
    assert attempted > 100
