"""What a ledger record keeps of the model a client asked for.

A refused request may name any text as its model (up to 200 characters,
newlines and spreadsheet formulas included), and reports use that column as
their model dimension. So a record whose model never resolved keeps the
requested name only when the gateway knows it (a priced model or a configured
alias); any other text becomes the fixed label ``(refused)``.

>>> label = RequestedModelLabel(lambda name: name == "llama-3.1-8b-instant")
>>> label.of("llama-3.1-8b-instant"), label.of('=HYPERLINK("http://x","y")')
('llama-3.1-8b-instant', '(refused)')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from teamgate.ledger.records import UsageRecord

REFUSED_MODEL = "(refused)"


class RequestedModelLabel:
    """Replaces unknown requested model names of unresolved records with ``(refused)``."""

    __slots__ = ("_known",)

    def __init__(self, known: Callable[[str], bool]) -> None:
        self._known = known

    def of(self, requested: str) -> str:
        return requested if not requested or self._known(requested) else REFUSED_MODEL

    def apply(self, record: UsageRecord) -> UsageRecord:
        """``record``, its ``model_requested`` labelled when the model did not resolve."""
        if record.model_served or not record.model_requested:
            return record
        label = self.of(record.model_requested)
        if label == record.model_requested:
            return record
        return dataclasses.replace(record, model_requested=label)
