"""Which team owns a Groq file or batch created through teamgate.

Groq's files and batches live in a Groq Project; teamgate records the team
(and environment) that created each one, so another team's id answers 404 and
listings show only the team's own. A batch row also carries the worst case
reserved for it and, once settled, when: settling happens exactly once.

>>> obj = OwnedObject("batch", "batch_01", "research", "batch", 1.0, worst_case_pusd=500)
>>> obj.settled
False
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ObjectKind = Literal["file", "batch"]


@dataclass(frozen=True, slots=True)
class OwnedObject:
    """A Groq file or batch and the team that owns it.

    ``worst_case_pusd``: for a checked batch input file, the most its lines can
    cost at the batch price; for a batch, the amount reserved against the budget.
    ``info`` is a short JSON text (e.g. a batch's input file id).
    """

    kind: ObjectKind
    object_id: str
    team: str
    environment: str
    created_at: float
    worst_case_pusd: int = 0
    settled_at: float | None = None
    info: str = ""

    @property
    def settled(self) -> bool:
        return self.settled_at is not None
