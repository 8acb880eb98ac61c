"""Money lives in one module: ``teamgate.pricing.money`` alone knows how many picodollars
make a dollar and how dollars are parsed and written.

The scan reads the code of every other module (docstrings and comments are prose, not
code) and fails on the scale written again as a number (``10**12``, ``1e12``,
``1_000_000_000_000``) or on a function that parses or formats dollars defined there."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "teamgate"
MONEY = SRC / "pricing" / "money.py"
SCALE = 10**12
# what a parser or formatter of dollars is called (format_usd, usd_to_pico, usd_text …)
MONEY_FUNCTION = re.compile(r"^_?(format_usd|usd_|pico_to|exact_usd|parse_usd|dollars?_)")


def _scale_literals(tree: ast.AST) -> list[int]:
    """Lines where the code writes 10**12 (as a literal or a power of ten)."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            if node.value == SCALE:
                lines.append(node.lineno)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            base, exp = node.left, node.right
            if (
                isinstance(base, ast.Constant)
                and isinstance(exp, ast.Constant)
                and (base.value, exp.value) == (10, 12)
            ):
                lines.append(node.lineno)
    return lines


def _money_functions(tree: ast.AST) -> list[str]:
    return [
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and MONEY_FUNCTION.match(node.name)
    ]


def _offenders() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        if path == MONEY:
            continue
        tree = ast.parse(path.read_text(), str(path))
        where = [f"line {n}: the picodollar scale" for n in _scale_literals(tree)]
        where += [f"def {name}" for name in _money_functions(tree)]
        if where:
            found[str(path.relative_to(SRC))] = where
    return found


def test_only_the_money_module_knows_the_scale_and_the_formats() -> None:
    assert _offenders() == {}


@pytest.mark.parametrize(
    "code",
    [
        "x = pico / 1e12",
        "x = int(dollars * 10**12)",
        "x = 1_000_000_000_000",
        "def format_usd(pico):\n    return pico",
        "def usd_to_pico(text):\n    return text",
    ],
)
def test_the_scan_finds_money_written_again(code: str) -> None:
    tree = ast.parse(code)
    assert _scale_literals(tree) or _money_functions(tree)


def test_the_money_module_itself_has_them() -> None:
    tree = ast.parse(MONEY.read_text())
    assert _scale_literals(tree) and "format_usd" in _money_functions(tree)
