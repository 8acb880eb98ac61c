"""Audio prices: USD per hour of audio, with a minimum billed length per request.

Exact integer arithmetic: a price is picodollars per hour, a length is whole
milliseconds (rounded up), and the cost is rounded up to the picodollar, so
spend is never under-counted.

>>> table = AudioPriceTable.builtin()
>>> price = table.get("whisper-large-v3-turbo")
>>> price.billed_ms(3.5), price.cost_ms(price.billed_ms(3.5))   # 10 s minimum at $0.04/h
(10000, 111111112)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from teamgate.pricing.money import usd_to_pico
from teamgate.pricing.price_list import AUDIO_PRICES_PER_HOUR

MS_PER_HOUR = 3_600_000


@dataclass(frozen=True, slots=True)
class AudioPrice:
    """One speech-to-text model's price."""

    model: str
    pico_per_hour: int
    min_billed_ms: int

    def billed_ms(self, duration_s: float) -> int:
        """The length Groq bills for ``duration_s`` of audio: whole ms, at least the minimum."""
        return max(math.ceil(duration_s * 1000), self.min_billed_ms)

    def cost_ms(self, billed_ms: int) -> int:
        """Picodollars for ``billed_ms`` of audio, rounded up."""
        return -(-self.pico_per_hour * billed_ms // MS_PER_HOUR)


class AudioPriceTable:
    """Speech-to-text prices by model (Groq's, from :mod:`teamgate.pricing.price_list`)."""

    def __init__(self, prices: Mapping[str, AudioPrice]) -> None:
        self._prices = MappingProxyType(dict(prices))

    @classmethod
    def builtin(cls, entries: Mapping[str, tuple[Decimal, int]] | None = None) -> AudioPriceTable:
        source = AUDIO_PRICES_PER_HOUR if entries is None else entries
        return cls(
            {
                model: AudioPrice(model, usd_to_pico(usd), seconds * 1000)
                for model, (usd, seconds) in source.items()
            }
        )

    def get(self, model: str) -> AudioPrice | None:
        return self._prices.get(model)

    def models(self) -> frozenset[str]:
        return frozenset(self._prices)
