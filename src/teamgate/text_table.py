"""Aligned text tables, as the CLI, ``check`` and the demo print them.

>>> print("\\n".join(render_table(("model", "price"), [("a", "0.05"), ("bb", "10.00")], right={1})))
model  price
a       0.05
bb     10.00
"""

from __future__ import annotations

from collections.abc import Collection, Sequence


def render_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Collection[int] = (),
    rule: bool = False,
) -> list[str]:
    """Columns two spaces apart; those in ``right`` right-aligned; a dashed rule if asked."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    ruled = [line(["-" * w for w in widths])] if rule else []
    return [line(header), *ruled, *(line(r) for r in rows)]
