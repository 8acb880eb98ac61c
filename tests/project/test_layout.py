"""The tests are laid out like the code, and a file out of place fails here.

``tests/unit/<package>``: a package of ``src/teamgate`` called directly (no served
gateway); ``tests/e2e/<feature>``: the built gateway driven as its users drive it;
``tests/project``: checks on the repository itself; ``tests/support``: harnesses
shared by several test dirs (no tests).
"""

from __future__ import annotations

from pathlib import Path

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
