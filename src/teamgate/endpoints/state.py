"""Long-lived state of the endpoints beyond chat, owned by the :class:`~teamgate.runtime.Gateway`.

>>> state = EndpointState()
>>> state.audio_prices.get("whisper-large-v3").min_billed_ms
10000
"""

from __future__ import annotations

from dataclasses import dataclass, field

from teamgate.budget.book import Reservation
from teamgate.endpoints.audio_pricing import AudioPriceTable


@dataclass
class EndpointState:
    """Audio prices, and the budget reservations of batches still running in this process."""

    audio_prices: AudioPriceTable = field(default_factory=AudioPriceTable.builtin)
    batch_reservations: dict[str, Reservation] = field(default_factory=dict)
