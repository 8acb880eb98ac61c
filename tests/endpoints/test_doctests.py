"""The usage examples in the endpoint and simulator modules' docstrings run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "teamgate.endpoints.audio_duration",
    "teamgate.endpoints.audio_pricing",
    "teamgate.endpoints.batch_lines",
    "teamgate.endpoints.batch_settlement",
    "teamgate.endpoints.multipart_upload",
    "teamgate.endpoints.ownership",
    "teamgate.endpoints.relay",
    "teamgate.endpoints.responses",
    "teamgate.endpoints.responses_meter",
    "teamgate.endpoints.routes",
    "teamgate.endpoints.state",
    "teamgate.ledger.owned",
    "teamgate.simulator.audio",
    "teamgate.simulator.batches",
    "teamgate.simulator.responses_api",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
