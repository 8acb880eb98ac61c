"""Prices and cost arithmetic, in integer picodollars (1 USD = 10**12 pUSD).

Groq quotes USD per 1M tokens with at most six decimals, so a price is an exact
integer number of picodollars per token (``usd_per_million * 10**6``) and
``tokens x price`` is exact. Sums of any number of costs stay exact: nothing
here is a float. Decimal appears only at the edges (config in, display out).

>>> from teamgate.config.schema import Settings
>>> table = PriceTable.from_settings(Settings(teams={}))
>>> table.cost("llama-3.3-70b-versatile", prompt_tokens=1000, completion_tokens=100)
669000000
>>> from teamgate.pricing.money import format_usd
>>> format_usd(669000000)
'$0.000669'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Literal

from teamgate.config.errors import ConfigError
from teamgate.config.schema import Price, Settings
from teamgate.pricing.money import scaled_decimal, scaled_exact
from teamgate.pricing.price_list import BUILTIN_PRICES
from teamgate.text.table import render_table

PriceSource = Literal["builtin", "config", "default"]

# Models on which Groq bills prompt-cache hits at half the input price
# (GROQ_API.md: "Prompt-cache hits cost 50 % less on input for GPT-OSS").
CACHE_DISCOUNT_MODELS: frozenset[str] = frozenset({"openai/gpt-oss-20b", "openai/gpt-oss-120b"})


class UnpricedModel(KeyError):
    """A model with no price and no ``pricing.default``: its cost is unknown.

    >>> str(UnpricedModel("mystery-model"))
    "'model `mystery-model` has no price (add it under `pricing:` or set `pricing.default`)'"
    """

    def __init__(self, model: str) -> None:
        self.model = model
        super().__init__(
            f"model `{model}` has no price (add it under `pricing:` or set `pricing.default`)"
        )


def _per_million_text(pico_per_token: int) -> str:
    """pUSD per token back to the USD-per-1M figure, at least two decimals."""
    usd = scaled_decimal(pico_per_token, 6).normalize()
    if usd.as_tuple().exponent > -2:  # type: ignore[operator]
        usd = usd.quantize(Decimal("0.01"))
    return f"{usd:f}"


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """The price of one model in picodollars per token.

    >>> p = ModelPrice.from_price("m", Price(Decimal("0.59"), Decimal("0.79")), "config")
    >>> p.input_pico_per_token, p.output_pico_per_token, p.source
    (590000, 790000, 'config')
    """

    model: str
    input_pico_per_token: int
    output_pico_per_token: int
    checked: date | None
    source: PriceSource

    @classmethod
    def from_price(cls, model: str, price: Price, source: PriceSource) -> ModelPrice:
        """Convert a USD-per-1M :class:`Price`.

        Raises ValueError if a price is negative or finer than 1 pUSD per token.
        """
        rates = []
        for side, usd in (("input", price.input), ("output", price.output)):
            if usd < 0:
                raise ValueError(f"{side} price {usd} is negative")
            try:
                # USD per 1M tokens: pUSD per token = USD per 1M x 10**12 / 10**6
                rates.append(scaled_exact(usd, 6))
            except ValueError:
                raise ValueError(
                    f"{side} price {usd} has more than 6 decimals (USD per 1M tokens)"
                ) from None
        return cls(model, rates[0], rates[1], price.checked, source)


class PriceTable:
    """The prices in force: built-ins, overridden by the config, plus an optional default.

    >>> from teamgate.config.schema import Settings
    >>> table = PriceTable.from_settings(Settings(teams={}))
    >>> table.get("openai/gpt-oss-20b").input_pico_per_token
    75000
    >>> table.get("unknown") is None
    True
    """

    def __init__(self, prices: Mapping[str, ModelPrice], default: ModelPrice | None = None):
        self._prices: Mapping[str, ModelPrice] = MappingProxyType(dict(prices))
        self._default = default

    @classmethod
    def from_settings(cls, settings: Settings) -> PriceTable:
        """Merge BUILTIN_PRICES with ``settings.pricing`` (config wins).

        Raises :class:`ConfigError` (path ``pricing.<model>``) for a price that is
        negative or has more than six decimals.
        """
        prices: dict[str, ModelPrice] = {}
        sources: list[tuple[Mapping[str, Price], PriceSource]] = [
            (BUILTIN_PRICES, "builtin"),
            (settings.pricing, "config"),
        ]
        for entries, source in sources:
            for model, price in entries.items():
                try:
                    prices[model] = ModelPrice.from_price(model, price, source)
                except ValueError as exc:
                    raise ConfigError(f"pricing.{model}", str(exc)) from None
        default = None
        if settings.pricing_default is not None:
            try:
                default = ModelPrice.from_price("*", settings.pricing_default, "default")
            except ValueError as exc:
                raise ConfigError("pricing.default", str(exc)) from None
        return cls(prices, default)

    @property
    def default(self) -> ModelPrice | None:
        return self._default

    def knows(self, model: str) -> bool:
        """True for a model with a price of its own (built-in or configured)."""
        return model in self._prices

    def get(self, model: str) -> ModelPrice | None:
        """The model's price, the default (renamed to ``model``) if set, else None."""
        price = self._prices.get(model)
        if price is not None:
            return price
        if self._default is None:
            return None
        return ModelPrice(
            model,
            self._default.input_pico_per_token,
            self._default.output_pico_per_token,
            self._default.checked,
            "default",
        )

    def require(self, model: str) -> ModelPrice:
        """Like :meth:`get`, but raises :class:`UnpricedModel` instead of returning None."""
        price = self.get(model)
        if price is None:
            raise UnpricedModel(model)
        return price

    def cost(
        self, model: str, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0
    ) -> int:
        """What Groq bills for one request, in picodollars.

        ``cached_tokens`` are the prompt-cache hits, a part of ``prompt_tokens``
        (as Groq reports them in ``prompt_tokens_details``). They cost the full
        input price except on :data:`CACHE_DISCOUNT_MODELS`, where they cost half;
        an odd half-picodollar is rounded up so spend is never under-counted.
        """
        if prompt_tokens < 0 or completion_tokens < 0 or cached_tokens < 0:
            raise ValueError("token counts must not be negative")
        price = self.require(model)
        inp = price.input_pico_per_token
        cost = prompt_tokens * inp + completion_tokens * price.output_pico_per_token
        if cached_tokens and model in CACHE_DISCOUNT_MODELS:
            cached = min(cached_tokens, prompt_tokens)
            cost -= (cached * inp) // 2  # the discount, rounded down: cost rounds up
        return cost

    def worst_case(self, model: str, prompt_bound: int, max_completion_tokens: int) -> int:
        """The most a request can cost: every prompt token uncached, every completion token used."""
        if prompt_bound < 0 or max_completion_tokens < 0:
            raise ValueError("token counts must not be negative")
        price = self.require(model)
        return (
            prompt_bound * price.input_pico_per_token
            + max_completion_tokens * price.output_pico_per_token
        )

    def max_completion_fit(
        self, model: str, prompt_bound: int, available_pico: int | None
    ) -> int | None:
        """The largest ``max_completion_tokens`` whose :meth:`worst_case` fits ``available_pico``.

        0 when not even the prompt fits; None when unknown (no budget, free output).

        >>> from teamgate.config.schema import Settings
        >>> t = PriceTable.from_settings(Settings(teams={}))
        >>> fit = t.max_completion_fit("llama-3.1-8b-instant", 100, 10**9)
        >>> fit, t.worst_case("llama-3.1-8b-instant", 100, fit) <= 10**9 < t.worst_case(
        ...     "llama-3.1-8b-instant", 100, fit + 1)
        (12437, True)
        """
        price = self.get(model)
        if available_pico is None or price is None or price.output_pico_per_token <= 0:
            return None
        left = available_pico - prompt_bound * price.input_pico_per_token
        return max(left // price.output_pico_per_token, 0)

    def rows(self) -> list[tuple[str, str, str, str, str]]:
        """(model, input $/1M, output $/1M, source, checked) by model; the default last."""
        prices = [self._prices[m] for m in sorted(self._prices)]
        if self._default is not None:
            prices.append(self._default)
        return [
            (
                "(default)" if p.source == "default" else p.model,
                _per_million_text(p.input_pico_per_token),
                _per_million_text(p.output_pico_per_token),
                p.source,
                p.checked.isoformat() if p.checked else "-",
            )
            for p in prices
        ]


PRICE_TABLE_HEADER = ("model", "input $/1M", "output $/1M", "source", "checked")


def render_price_table(table: PriceTable) -> str:
    """The table as aligned text (what ``teamgate pricing`` prints), prices right-aligned."""
    return "\n".join(render_table(PRICE_TABLE_HEADER, table.rows(), right={1, 2})) + "\n"
