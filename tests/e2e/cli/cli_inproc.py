"""Run ``teamgate`` in this process (fast) and make config files for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from teamgate.cli import main
from tests.conftest import BASE_CONFIG, merge


def teamgate(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``teamgate argv…``: (exit status, stdout, stderr)."""
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def write_config(folder: Path, patch: dict[str, Any] | None = None) -> Path:
    """A config in ``folder`` whose ledger is ``sqlite:///ledger.db``: next to the file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "teamgate.yaml"
    data = merge(BASE_CONFIG, {"storage": {"url": "sqlite:///ledger.db"}, **(patch or {})})
    path.write_text(yaml.safe_dump(data))
    return path
