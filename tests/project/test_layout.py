"""The tests are laid out like the code, and a file out of place fails here.

``tests/unit/<package>``: a package of ``src/teamgate`` called directly (no served
gateway); ``tests/e2e/<feature>``: the built gateway driven as its users drive it;
``tests/project``: checks on the repository itself; ``tests/support``: harnesses
shared by several test dirs (no tests). A module imports nothing from another dir's test
module or conftest: what several dirs share is in ``tests/support``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
SRC = ROOT / "src" / "teamgate"
TOP_LEVEL = {"unit", "e2e", "project", "support", "conftest.py", "__init__.py"}
# Where a test file may sit: the dir, and how many dirs below it.
TEST_HOMES = {"unit": 1, "e2e": 1, "project": (0, 1)}


def entries(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.name != "__pycache__")


def code_units() -> set[str]:
    """The names a ``tests/unit`` dir may have: each package, and each root entry module."""
    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    modules = {p.stem for p in SRC.glob("*.py") if not p.name.startswith("__")}
    return packages | modules


def test_the_top_level_holds_only_the_four_dirs() -> None:
    extra = [p.name for p in entries(TESTS) if p.name not in TOP_LEVEL]
    assert not extra, f"tests/ holds only {sorted(TOP_LEVEL)}; move {extra} into one of them"


def test_every_unit_dir_is_a_package_of_the_code() -> None:
    names = code_units()
    stray = [p.name for p in entries(TESTS / "unit") if p.is_dir() and p.name not in names]
    assert not stray, f"tests/unit/<name> must name a package of src/teamgate: {stray}"


def test_every_test_file_sits_in_a_unit_e2e_or_project_dir() -> None:
    misplaced = []
    for path in TESTS.rglob("test_*.py"):
        parts = path.relative_to(TESTS).parts
        home, depth = parts[0], len(parts) - 2  # dirs between the home and the file
        allowed = TEST_HOMES.get(home)
        ok = depth in allowed if isinstance(allowed, tuple) else depth == allowed
        if not ok:
            misplaced.append(str(path.relative_to(ROOT)))
    assert not misplaced, (
        "test files go in tests/unit/<package>/, tests/e2e/<feature>/ or tests/project/: "
        f"{sorted(misplaced)}"
    )


def test_every_dir_of_python_files_is_a_package() -> None:
    """Module names are then unique (``tests.unit.simulator.test_cli`` vs
    ``tests.e2e.cli.test_cli``), and imports name their module in full."""
    missing = sorted(
        str(d.relative_to(ROOT))
        for d in {p.parent for p in TESTS.rglob("*.py")}
        if not (d / "__init__.py").is_file()
    )
    assert not missing, f"add an __init__.py to {missing}"


def _is_test_or_conftest(module: str) -> bool:
    leaf = module.rpartition(".")[2]
    return leaf.startswith("test_") or leaf == "conftest"


def imported_modules(source: str, path: Path) -> list[str]:
    """Every ``tests.…`` module named by an import in ``source`` (the file at ``path``,
    relative to the repository's root), relative imports resolved."""
    package = list(path.parent.parts)
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found.append(module)  # `from . import test_x` names the module test_x:
            found += [f"{module}.{a.name}" for a in node.names if _is_test_or_conftest(a.name)]
    return [m for m in found if m.startswith("tests.")]


def imports_from_other_dirs(source: str, path: Path) -> list[str]:
    """The test modules and conftests of another dir that ``source`` imports from. Its own
    dir's are fine, and so is an enclosing dir's conftest (its fixtures apply here anyway:
    ``tests/conftest.py``); harness modules (``tests/support``, or e.g.
    ``tests/unit/limits/limiter_harness.py``) may be imported from anywhere."""
    here = ".".join(path.parent.parts)
    out = []
    for module in imported_modules(source, path):
        home, _, leaf = module.rpartition(".")
        if not _is_test_or_conftest(module) or home == here:
            continue
        if leaf == "conftest" and (here + ".").startswith(home + "."):
            continue
        out.append(module)
    return out


IMPORT_CASES = [  # (importer, source, what the check flags)
    ("tests/e2e/alerts/test_a.py", "from tests.e2e.budgets.test_budget_gateway import MODEL",
     ["tests.e2e.budgets.test_budget_gateway"]),
    ("tests/e2e/cli/test_a.py", "from tests.e2e.admin_api.conftest import ADMIN_KEY",
     ["tests.e2e.admin_api.conftest"]),
    ("tests/unit/auth/test_a.py", "from tests.unit.ledger import conftest",
     ["tests.unit.ledger.conftest"]),
    ("tests/unit/auth/test_a.py", "import tests.unit.observability.test_alerts",
     ["tests.unit.observability.test_alerts"]),
    ("tests/e2e/scale_out/test_a.py", "from ..cli.test_cli import run_cli",
     ["tests.e2e.cli.test_cli"]),
    ("tests/support/a.py", "def f():\n    from tests.e2e.reports.conftest import record",
     ["tests.e2e.reports.conftest"]),
    ("bench/kept_by_hand.py", "from tests.unit.config.test_validation import CASES",
     ["tests.unit.config.test_validation"]),
    # fine: its own dir's, an enclosing dir's conftest, a harness, tests/support
    ("tests/e2e/cli/test_a.py", "from tests.e2e.cli.test_serve_reload import SRC", []),
    ("tests/e2e/reports/test_a.py", "from .conftest import Ledger", []),
    ("tests/unit/ledger/test_a.py", "from . import test_postgres_store as postgres", []),
    ("tests/e2e/audio/test_a.py", "from tests.conftest import RunningGateway", []),
    ("tests/e2e/audio/test_a.py", "from tests.unit.limits.limiter_harness import run", []),
    ("tests/e2e/audio/test_a.py", "from tests.support.admin_gateway import ADMIN_KEY", []),
]  # fmt: skip


@pytest.mark.parametrize(("importer", "source", "flagged"), IMPORT_CASES)
def test_the_import_check_flags_another_dirs_test_modules_and_conftests(
    importer: str, source: str, flagged: list[str]
) -> None:
    assert imports_from_other_dirs(source, Path(importer)) == flagged


def test_no_module_imports_another_dirs_test_module_or_conftest() -> None:
    modules = sorted([*TESTS.rglob("*.py"), *(ROOT / "bench").rglob("*.py")])
    found = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in modules
        for module in imports_from_other_dirs(path.read_text(), path.relative_to(ROOT))
    ]
    assert not found, (
        "move what several test dirs share into a module of tests/support/ named for what it "
        f"holds, and import it from there: {found}"
    )
