"""The architecture is a checked contract: ``lint-imports`` keeps the layers of pyproject.toml,
and a forbidden import in a copy of the package breaks the contract that forbids it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def lint_imports(src: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(cwd / "pyproject.toml")],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of src/ and pyproject.toml that a test may add one import to."""
    base = tmp_path_factory.mktemp("arch")
    shutil.copytree(ROOT / "src", base / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", base / "pyproject.toml")
    return base


def test_the_contracts_hold_today() -> None:
    result = lint_imports(ROOT / "src", ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
    kept = result.stdout.count(" KEPT")
    assert kept == len(CONTRACTS["contracts"]) >= 5


def test_every_root_module_has_a_layer() -> None:
    """A new module at the root is placed in the layers on purpose, never by default."""
    (layers,) = [c for c in CONTRACTS["contracts"] if c["id"] == "layers"]
    placed = {
        name.strip()
        for layer in layers["layers"]
        for part in layer.split("|")
        for name in part.split(":")
    }
    root = ROOT / "src" / "teamgate"
    present = {p.stem for p in root.glob("*.py") if p.stem != "__init__"} | {
        p.name for p in root.iterdir() if (p / "__init__.py").is_file()
    }
    assert present - placed == set()
    assert placed - present == set()  # no stale names either


ENTRY_POINTS = {"__init__", "__main__", "app", "runtime"}


def test_the_root_holds_only_the_entry_points() -> None:
    """Everything else lives in a package whose name says what it is (docs/architecture.md)."""
    root = ROOT / "src" / "teamgate"
    assert {p.stem for p in root.glob("*.py")} == ENTRY_POINTS


# (module file under src/teamgate, the line added to it, the contract it breaks)
FORBIDDEN = [
    ("pricing/money.py", "import teamgate.runtime", "layers"),  # the domain importing the gateway
    ("config/schema.py", "import teamgate.ledger", "layers"),
    ("http/asgi.py", "import teamgate.budget", "layers"),  # plumbing importing a service
    ("ledger/records.py", "import teamgate.app", "layers"),
    ("limits/gcra.py", "import teamgate.budget.period", "limits-budget"),
    ("budget/period.py", "import teamgate.limits.gcra", "limits-budget"),
    ("simulator/config.py", "import teamgate.pricing.prices", "simulator-apart"),
    ("lifecycle/__init__.py", "import teamgate.simulator", "gateway-without-simulator"),
    ("pricing/prices.py", "import aiohttp", "pure-domain"),
]


@pytest.mark.parametrize(("module", "line", "contract"), FORBIDDEN)
def test_a_forbidden_import_breaks_its_contract(
    copy: Path, module: str, line: str, contract: str
) -> None:
    path = copy / "src" / "teamgate" / module
    original = path.read_text()
    path.write_text(original + f"\n{line}  # added by test_architecture\n")
    try:
        result = lint_imports(copy / "src", copy)
    finally:
        path.write_text(original)
    assert result.returncode == 1, result.stdout
    (named,) = [c["name"] for c in CONTRACTS["contracts"] if c["id"] == contract]
    assert f"{named} BROKEN" in result.stdout
    assert (
        f"teamgate.{module.removesuffix('.py').replace('/', '.')}".removesuffix(".__init__")
        in result.stdout
    )  # the report names the offending module


def test_the_untouched_copy_keeps_every_contract(copy: Path) -> None:
    """So the failures above come from the added line, not from checking a copy."""
    result = lint_imports(copy / "src", copy)
    assert result.returncode == 0, result.stdout + result.stderr


# The other static checks of scripts/check that keep the house clean, as one table.
CHECKERS = [
    ("vulture", ["src", "vulture_whitelist.py"]),  # no dead code
    ("deptry", ["src"]),  # every import declared, every declared runtime dependency used
]


@pytest.mark.parametrize(("tool", "args"), CHECKERS, ids=[c[0] for c in CHECKERS])
def test_static_checker_is_clean(tool: str, args: list[str]) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name(tool)), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f".venv/bin/{tool} {' '.join(args)}" in (ROOT / "scripts" / "check").read_text()


def test_vulture_finds_a_dead_function(tmp_path: Path) -> None:
    """The dead-code check does fail: a module with an unused function is reported."""
    (tmp_path / "dead.py").write_text("def never_called() -> int:\n    return 1\n")
    result = subprocess.run(
        [str(Path(sys.executable).with_name("vulture")), str(tmp_path / "dead.py")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3 and "never_called" in result.stdout
