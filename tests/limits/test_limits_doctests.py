"""The usage examples in the limits package's docstrings stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "counters",
    "feedback",
    "gcra",
    "headers",
    "limiter",
    "memory",
    "plan",
    "queue",
    "refusal",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"teamgate.limits.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
