"""The msgspec and pydantic prototypes behind docs/architecture.md's config decision stay real.

``bench/kept_by_hand.py config`` scores teamgate's validation against two prototypes of the
``teams`` section. That comparison is only honest while each prototype accepts the valid
config and refuses every case it is scored on, so a change to the config or the validation
table that leaves a prototype behind fails here, not silently in the figures.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support.config_seed import seed_config
from tests.support.validation_cases import CASES

BENCH = Path(__file__).resolve().parents[3] / "bench"


def _bench_module(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(BENCH))


PROTOTYPES = ("config_msgspec", "config_pydantic")


def _problems(name: str) -> Callable[[Any], list[str]]:
    problems: Callable[[Any], list[str]] = _bench_module(name).problems
    return problems


@pytest.mark.parametrize("prototype", PROTOTYPES)
def test_a_prototype_accepts_the_valid_teams_section(prototype: str) -> None:
    assert _problems(prototype)(seed_config()["teams"]) == []


@pytest.mark.parametrize("prototype", PROTOTYPES)
@pytest.mark.parametrize("case", _bench_module("kept_by_hand").CONFIG_CASES)
def test_a_prototype_refuses_every_case_it_is_scored_on(prototype: str, case: str) -> None:
    mutation = {name: m for name, m, _ in CASES}[case]
    data = seed_config()
    mutation(data)
    assert _problems(prototype)(data["teams"]), f"{prototype} accepted {case!r}"
