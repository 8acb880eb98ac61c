"""The stores and the Redis backends are not written twice (issue 18).

A run of six identical code lines (white space folded; blank lines, comments, imports and
lone punctuation passed over, as the ``duplicates`` tool does) may stand only once in each
group below: SQLite and PostgreSQL share their SQL and rules through ``ledger/sql.py``,
``ledger/queries.py`` and ``ledger/rules.py``, and the Redis backends of the limits and the
budgets share ``shared_redis/backend.py`` and ``shared_redis/failover.py``. Same-shape
copies (alike but for names) are not caught here; ``duplicates --repo src`` shows those.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "teamgate"
RUN = 6
PASSED_OVER = re.compile(r"^(#|--|import |from \S+ import |[()\[\]{},:;]*$|\"\"\"$)")
GROUPS = {
    "the stores (ledger/, the migrations included)": ("ledger",),
    "the Redis backends": ("shared_redis",),
    "the Redis backends beside the limits and budgets they serve": (
        "shared_redis",
        "limits",
        "budget",
    ),
}

Place = tuple[str, int]


def _code_lines(text: str) -> list[tuple[int, str]]:
    out = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = " ".join(raw.split())
        if line and not PASSED_OVER.match(line):
            out.append((number, line))
    return out


def copied_runs(files: Iterable[tuple[str, str]]) -> list[tuple[Place, Place]]:
    """Pairs of places (name, first line) where the same run of code lines stands twice."""
    seen: dict[tuple[str, ...], list[Place]] = {}
    pairs = []
    for name, text in files:
        lines = _code_lines(text)
        for i in range(len(lines) - RUN + 1):
            run = tuple(line for _, line in lines[i : i + RUN])
            here = (name, lines[i][0])
            for there in seen.get(run, []):
                if there[0] != name or here[1] - there[1] >= RUN:
                    pairs.append((there, here))
            seen.setdefault(run, []).append(here)
    return pairs


def _files(packages: tuple[str, ...]) -> list[tuple[str, str]]:
    paths = sorted(
        p for pkg in packages for p in (SRC / pkg).rglob("*") if p.suffix in (".py", ".sql")
    )
    return [(str(p.relative_to(SRC)), p.read_text()) for p in paths]


@pytest.mark.parametrize("packages", list(GROUPS.values()), ids=list(GROUPS))
def test_no_run_of_code_stands_twice(packages: tuple[str, ...]) -> None:
    assert copied_runs(_files(packages)) == []


SAMPLE = """
def usage_summary(
    self,
    start: float,
    end: float,
    group_by: tuple[str, ...],
    tz: str = "UTC",
) -> list[UsageGroup]:
"""


def test_a_copied_signature_is_found_and_a_near_one_is_not() -> None:
    pairs = copied_runs([("sqlite.py", SAMPLE), ("postgres.py", "# the same\n" + SAMPLE)])
    assert (("sqlite.py", 2), ("postgres.py", 3)) in pairs
    near = SAMPLE.replace("tz: str", "zone: str")
    assert copied_runs([("sqlite.py", SAMPLE), ("postgres.py", near)]) == []


def test_overlapping_lines_of_one_file_are_not_a_copy() -> None:
    same = "\n".join(["x = 1"] * (RUN + 2))
    assert copied_runs([("a.py", same)]) == []
    assert copied_runs([("a.py", same + "\n\n" + same)]) != []
