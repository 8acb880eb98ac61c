"""Aligned text tables: the one table style of the CLI, ``check``, reports and the demo.

One style everywhere: lowercase headers (the callers write them so; units keep
their case, ``$/1M``), a dashed rule under them, two spaces
between columns, text left-aligned and numbers (the columns in ``right``)
right-aligned, no trailing blanks.

>>> print("\\n".join(render_table(("model", "price"), [("a", "0.05"), ("bb", "10.00")], right={1})))
model  price
-----  -----
a       0.05
bb     10.00

Why not ``rich``: its tables are fine on a terminal, but piped output (the
common case for ``report``, ``usage --json`` aside) would depend on its terminal
detection and wrap at 80 columns; it brings four packages and ~40 ms of import
time to every command; and what the CLI needs is this one function, whose
output is plain, deterministic text that snapshot tests pin down.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence


def render_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Collection[int] = (),
) -> list[str]:
    """The table's lines: ``header``, a rule, then ``rows``."""
    head = list(header)
    widths = [max(len(row[i]) for row in (head, *rows)) for i in range(len(head))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(head), line(["-" * w for w in widths]), *(line(r) for r in rows)]
