"""The usage examples in the docstrings of the pricing, token and ledger modules run."""

from __future__ import annotations

import doctest
import types

import pytest

from teamgate import pricing, tokens
from teamgate.ledger import open as open_module
from teamgate.ledger import postgres_summary, sqlite, writer


@pytest.mark.parametrize("module", [pricing, tokens, open_module, postgres_summary, sqlite, writer])
def test_docstring_examples(module: types.ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
