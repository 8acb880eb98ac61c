"""A valid config as a plain dict (the seed organization, tests/support/config_seed.py),
fresh for every test."""

from __future__ import annotations

from typing import Any

import pytest

from teamgate.config import secret_refs
from tests.support.config_seed import seed_config


@pytest.fixture
def config() -> dict[str, Any]:
    return seed_config()


@pytest.fixture
def no_cloud_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    """The AWS and GCP clients count as not installed, whatever the venv holds (the
    validation table's secret-reference cases expect the "needs the extra" messages)."""
    monkeypatch.setattr(secret_refs, "module_available", lambda name: False)
