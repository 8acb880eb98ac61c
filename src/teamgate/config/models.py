"""The ``pricing`` and ``aliases`` sections, and the model catalog they make.

:class:`ModelCatalog` answers the two questions the rest of validation asks
about a model name: what does it resolve to, and can it be priced.

>>> from teamgate.config.fields import Problems
>>> problems = Problems()
>>> pricing, default = read_pricing(problems, {"my-model": {"input": 1, "output": "2.5"}})
>>> pricing["my-model"].output
Decimal('2.5')
>>> catalog = build_catalog(problems, pricing, default, {"fast": "my-model"})
>>> catalog.resolve("fast"), catalog.is_priced("fast"), catalog.is_priced("other")
('my-model', True, False)
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from teamgate.config.fields import (
    Check,
    Problems,
    Section,
    as_mapping,
    child,
    iso_date,
    optional,
    price_amount,
    shown,
)
from teamgate.config.schema import Limits, Price
from teamgate.config.sections import read_limits
from teamgate.pricing.price_list import AUDIO_PRICES_PER_HOUR, BUILTIN_PRICES

DEFAULT_PRICE_KEY = "default"
_ZERO = price_amount(0)


PRICE_FIELDS: dict[str, Check[Any]] = {
    "input": price_amount,  # required
    "output": price_amount,  # required
    "checked": optional(iso_date),
}
PRICE_REQUIRED = ("input", "output")


def read_price(problems: Problems, path: str, value: object) -> Price:
    s = Section(problems, path, value, known=tuple(PRICE_FIELDS))
    return Price(
        input=s.require("input", PRICE_FIELDS["input"], _ZERO),
        output=s.require("output", PRICE_FIELDS["output"], _ZERO),
        checked=s.get("checked", PRICE_FIELDS["checked"], None),
    )


def read_pricing(problems: Problems, value: object) -> tuple[dict[str, Price], Price | None]:
    """``{model: {input, output, checked?}}`` overrides, and the ``default`` entry if any."""
    overrides: dict[str, Price] = {}
    default: Price | None = None
    for model, raw in as_mapping(problems, "pricing", value).items():
        path = child("pricing", model)
        if not isinstance(model, str) or not model.strip():
            problems.add(path, f"must be a model name, got {shown(model)}")
            continue
        price = read_price(problems, path, raw)
        if model == DEFAULT_PRICE_KEY:
            default = price
        else:
            overrides[model] = price
    return overrides, default


@dataclass(frozen=True, slots=True)
class ModelCatalog:
    """Priced models (built-in plus overrides), the valid aliases, the fallback price.

    ``broken_aliases`` had problems already reported; checks skip them so one
    mistake is reported once.
    """

    prices: Mapping[str, Price]
    default_price: Price | None
    aliases: Mapping[str, str]
    broken_aliases: frozenset[str]

    def resolve(self, name: str) -> str:
        return self.aliases.get(name, name)

    def is_priced(self, name: str) -> bool:
        real = self.resolve(name)
        return (
            self.default_price is not None
            or real in self.prices
            or real in AUDIO_PRICES_PER_HOUR  # priced per audio hour
        )

    def describe(self, name: str) -> str:
        target = self.aliases.get(name)
        return f"'{name}' (alias of '{target}')" if target else f"'{name}'"

    def closest(self, name: str) -> str | None:
        """The priced model or alias a typo most likely meant, or None.

        >>> catalog = ModelCatalog({"llama-3.1-8b-instant": None}, None, {}, frozenset())  # type: ignore[dict-item]
        >>> catalog.closest("llama-3.1-8b-instnat"), catalog.closest("gpt-4o")
        ('llama-3.1-8b-instant', None)
        """  # noqa: E501
        names = [*self.prices, *AUDIO_PRICES_PER_HOUR, *self.aliases]
        close = difflib.get_close_matches(self.resolve(name), names, n=1, cutoff=0.8)
        return close[0] if close else None


def build_catalog(
    problems: Problems,
    pricing: Mapping[str, Price],
    default_price: Price | None,
    raw_aliases: object,
) -> ModelCatalog:
    """Check ``aliases`` against the priced models and combine them into a catalog."""
    prices = {**BUILTIN_PRICES, **pricing}
    entries = as_mapping(problems, "aliases", raw_aliases)
    aliases: dict[str, str] = {}
    broken: set[str] = set()
    for alias, target in entries.items():
        path = child("aliases", alias)
        if not isinstance(alias, str) or not alias.strip():
            problems.add(path, f"must be an alias name, got {shown(alias)}")
            continue
        broken.add(alias)
        if not isinstance(target, str) or not target.strip():
            problems.add(path, f"must be the name of a model, got {shown(target)}")
        elif alias in prices:
            problems.add(
                path, f"alias shadows the priced model '{alias}'; choose another alias name"
            )
        elif target == alias:
            problems.add(path, "an alias cannot point at itself")
        elif target in entries and target not in prices:
            problems.add(
                path,
                f"points at '{target}', which is itself an alias; point at a model directly",
            )
        else:
            aliases[alias] = target
            broken.discard(alias)
    return ModelCatalog(prices, default_price, aliases, frozenset(broken))


def read_model_limits(
    problems: Problems,
    path: str,
    value: object,
    catalog: ModelCatalog,
    allowed: Collection[str],
    outside: str,
) -> dict[str, Limits]:
    """``{model: limits}`` keyed by the resolved model name.

    Each key, after resolving aliases, must be in ``allowed`` (resolved names);
    otherwise the problem says ``outside``.
    """
    result: dict[str, Limits] = {}
    first_path: dict[str, str] = {}
    for model, raw in as_mapping(problems, path, value).items():
        model_path = child(path, model)
        limits = read_limits(problems, model_path, raw)
        if not isinstance(model, str) or not model.strip():
            problems.add(model_path, f"must be a model name, got {shown(model)}")
            continue
        if model in catalog.broken_aliases:
            continue
        resolved = catalog.resolve(model)
        if resolved not in allowed:
            problems.add(model_path, outside)
        elif resolved in result:
            problems.add(model_path, f"the same model as {first_path[resolved]}")
        else:
            result[resolved] = limits
            first_path[resolved] = model_path
    return result
