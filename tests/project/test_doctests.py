"""Every usage example in teamgate's docstrings runs and holds (one runner for all modules)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import teamgate


def modules_with_examples() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(teamgate.__path__, prefix="teamgate."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        examples = [e for t in doctest.DocTestFinder().find(module) for e in t.examples]
        if any(not e.options.get(doctest.SKIP) for e in examples):
            names.append(info.name)
    return sorted(names)


MODULES = modules_with_examples()


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_public_modules_have_examples() -> None:
    assert len(MODULES) > 40
