"""Cost arithmetic: exact picodollars for every seed model, overrides, defaults, display."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from teamgate.config.errors import ConfigError
from teamgate.config.schema import Price, Settings
from teamgate.pricing.money import PICO_PER_USD, format_usd, pico_to_decimal_usd, usd_to_pico
from teamgate.pricing.price_list import BUILTIN_PRICES
from teamgate.pricing.prices import (
    CACHE_DISCOUNT_MODELS,
    ModelPrice,
    PriceTable,
    UnpricedModel,
    render_price_table,
)


def table(pricing: dict[str, Price] | None = None, default: Price | None = None) -> PriceTable:
    return PriceTable.from_settings(
        Settings(teams={}, pricing=pricing or {}, pricing_default=default)
    )


# (model, prompt 1234 tokens, completion 567 tokens) -> picodollars, computed by hand:
# price in USD per 1M tokens x 10**6 = pUSD per token.
SEED_COSTS = {
    "llama-3.1-8b-instant": 1234 * 50_000 + 567 * 80_000,  # 107_060_000
    "llama-3.3-70b-versatile": 1234 * 590_000 + 567 * 790_000,  # 1_175_990_000
    "meta-llama/llama-4-scout-17b-16e-instruct": 1234 * 110_000 + 567 * 340_000,
    "meta-llama/llama-4-maverick-17b-128e-instruct": 1234 * 200_000 + 567 * 600_000,
    "qwen/qwen3-32b": 1234 * 290_000 + 567 * 590_000,
    "openai/gpt-oss-20b": 1234 * 75_000 + 567 * 300_000,
    "openai/gpt-oss-120b": 1234 * 150_000 + 567 * 600_000,
    "qwen/qwen3.6-27b": 1234 * 600_000 + 567 * 3_000_000,
}
SEED_LITERALS = {
    "llama-3.1-8b-instant": 107_060_000,
    "llama-3.3-70b-versatile": 1_175_990_000,
    "meta-llama/llama-4-scout-17b-16e-instruct": 328_520_000,
    "meta-llama/llama-4-maverick-17b-128e-instruct": 587_000_000,
    "qwen/qwen3-32b": 692_390_000,
    "openai/gpt-oss-20b": 262_650_000,
    "openai/gpt-oss-120b": 525_300_000,
    "qwen/qwen3.6-27b": 2_441_400_000,
}


def test_every_builtin_model_is_covered() -> None:
    assert set(SEED_COSTS) == set(BUILTIN_PRICES) == set(SEED_LITERALS)


@pytest.mark.parametrize("model", sorted(SEED_COSTS))
def test_seed_model_cost_is_exact(model: str) -> None:
    cost = table().cost(model, prompt_tokens=1234, completion_tokens=567)
    assert cost == SEED_COSTS[model] == SEED_LITERALS[model]
    # The same figure from the published Decimal prices, to the picodollar.
    price = BUILTIN_PRICES[model]
    expected_usd = (price.input * 1234 + price.output * 567) / 1_000_000
    assert pico_to_decimal_usd(cost) == expected_usd


def test_a_month_of_a_million_small_requests_sums_exactly() -> None:
    prices = table()
    total = 0
    for _ in range(1_000_000):
        total += prices.cost("llama-3.3-70b-versatile", 37, 12)
    per_request = 37 * 590_000 + 12 * 790_000  # 31_310_000 pUSD
    assert total == 1_000_000 * per_request == 31_310_000_000_000
    assert pico_to_decimal_usd(total) == Decimal("31.31")
    assert format_usd(total) == "$31.31"


def test_worst_case_prices_every_token_at_full_rate() -> None:
    prices = table()
    assert prices.worst_case("openai/gpt-oss-20b", 1000, 200) == 1000 * 75_000 + 200 * 300_000
    # Never below the real cost of any outcome within the bounds.
    assert prices.worst_case("openai/gpt-oss-20b", 1000, 200) >= prices.cost(
        "openai/gpt-oss-20b", 1000, 200, cached_tokens=500
    )


def test_cached_tokens_half_price_only_on_gpt_oss() -> None:
    prices = table()
    assert "openai/gpt-oss-120b" in CACHE_DISCOUNT_MODELS
    # 1000 prompt tokens of which 400 cached: 600 x 150_000 + 400 x 75_000.
    assert prices.cost("openai/gpt-oss-120b", 1000, 10, cached_tokens=400) == (
        600 * 150_000 + 400 * 75_000 + 10 * 600_000
    )
    # Other models: cached tokens cost the full input price.
    assert prices.cost("llama-3.3-70b-versatile", 1000, 10, cached_tokens=400) == (
        1000 * 590_000 + 10 * 790_000
    )


def test_cache_discount_rounds_up_an_odd_half_picodollar() -> None:
    # An override of 1 pUSD per token: 3 cached tokens cost 1.5 pUSD -> 2.
    prices = table({"openai/gpt-oss-20b": Price(Decimal("0.000001"), Decimal("0"))})
    assert prices.cost("openai/gpt-oss-20b", 10, 0, cached_tokens=3) == 7 + 2
    # More cached than prompt tokens cannot make the cost negative or below the cached rate.
    assert prices.cost("openai/gpt-oss-20b", 2, 0, cached_tokens=5) == 1


def test_config_override_beats_builtin() -> None:
    prices = table({"llama-3.3-70b-versatile": Price(Decimal("1.5"), Decimal("2"))})
    price = prices.get("llama-3.3-70b-versatile")
    assert price == ModelPrice("llama-3.3-70b-versatile", 1_500_000, 2_000_000, None, "config")
    assert prices.cost("llama-3.3-70b-versatile", 2, 3) == 2 * 1_500_000 + 3 * 2_000_000
    # Untouched built-ins stay.
    builtin = prices.get("llama-3.1-8b-instant")
    assert builtin is not None and builtin.source == "builtin"
    assert builtin.checked == date(2026, 11, 1)


def test_config_adds_new_models() -> None:
    prices = table({"acme/new-model": Price(Decimal("0.123456"), Decimal("1"), date(2026, 1, 2))})
    assert prices.cost("acme/new-model", 1, 1) == 123_456 + 1_000_000


def test_default_only_when_set() -> None:
    with pytest.raises(UnpricedModel) as err:
        table().cost("mystery", 1, 1)
    assert err.value.model == "mystery"
    assert isinstance(err.value, KeyError)
    assert "mystery" in str(err.value) and "pricing.default" in str(err.value)
    with pytest.raises(UnpricedModel):
        table().worst_case("mystery", 1, 1)
    assert table().get("mystery") is None

    prices = table(default=Price(Decimal("2"), Decimal("3")))
    price = prices.get("mystery")
    assert price == ModelPrice("mystery", 2_000_000, 3_000_000, None, "default")
    assert prices.cost("mystery", 10, 10) == 50_000_000
    # A listed price still wins over the default.
    assert prices.cost("llama-3.1-8b-instant", 1, 0) == 50_000


@pytest.mark.parametrize(
    "bad", [Price(Decimal("0.0000001"), Decimal("1")), Price(Decimal("-1"), Decimal("1"))]
)
def test_bad_config_price_is_a_config_error(bad: Price) -> None:
    with pytest.raises(ConfigError) as err:
        table({"m": bad})
    assert err.value.path == "pricing.m"
    with pytest.raises(ConfigError) as err:
        table(default=bad)
    assert err.value.path == "pricing.default"


def test_negative_tokens_are_refused() -> None:
    with pytest.raises(ValueError):
        table().cost("llama-3.1-8b-instant", -1, 0)


@pytest.mark.parametrize(
    ("usd", "pico"),
    [
        ("0", 0),
        ("1", PICO_PER_USD),
        ("12.34", 12_340_000_000_000),
        ("0.000000000001", 1),
        ("-2.5", -2_500_000_000_000),
        ("1E+3", 1000 * PICO_PER_USD),
        ("123456789012345678901234567890.5", 123456789012345678901234567890_500000000000),
    ],
)
def test_usd_to_pico_is_exact(usd: str, pico: int) -> None:
    assert usd_to_pico(Decimal(usd)) == pico
    assert pico_to_decimal_usd(pico) == Decimal(usd)


@pytest.mark.parametrize("usd", ["0.0000000000001", "1.0000000000005", "NaN", "Infinity"])
def test_usd_to_pico_refuses_inexact(usd: str) -> None:
    with pytest.raises(ValueError):
        usd_to_pico(Decimal(usd))


@pytest.mark.parametrize(
    ("pico", "text"),
    [
        (12_340_000_000_000, "$12.34"),
        (12_345_000_000_000, "$12.35"),  # half-up
        (12_344_999_999_999, "$12.34"),
        (0, "$0.00"),
        (-5 * 10**11, "-$0.50"),
        (-12_345_000_000_000, "-$12.35"),
        (-1, "-$0.000000000001"),  # below a cent: never shown as zero
        (669_000_000, "$0.000669"),
        (98_000_000, "$0.000098"),
        (4_999_999_999, "$0.005"),
        (1, "$0.000000000001"),
        (7 * PICO_PER_USD, "$7.00"),
        (1_000 * PICO_PER_USD, "$1,000.00"),  # thousands separators
        (1_234_567_891 * 10**9, "$1,234,567.89"),
    ],
)
def test_format_usd(pico: int, text: str) -> None:
    """One money format everywhere: thousands separators, sub-cent amounts non-zero."""
    assert format_usd(pico) == text


def test_rows_and_rendered_table() -> None:
    prices = table(
        {"llama-3.3-70b-versatile": Price(Decimal("0.6"), Decimal("0.8"), date(2026, 12, 1))},
        default=Price(Decimal("1"), Decimal("2")),
    )
    rows = prices.rows()
    assert rows[-1] == ("(default)", "1.00", "2.00", "default", "-")
    assert ("llama-3.3-70b-versatile", "0.60", "0.80", "config", "2026-12-01") in rows
    assert ("openai/gpt-oss-20b", "0.075", "0.30", "builtin", "2026-11-01") in rows
    models = [r[0] for r in rows[:-1]]
    assert models == sorted(models) and len(models) == len(BUILTIN_PRICES)

    text = render_price_table(prices)
    lines = text.splitlines()
    assert lines[0].split() == ["model", "input", "$/1M", "output", "$/1M", "source", "checked"]
    assert set(lines[1]) == {"-", " "}  # the one table style: a rule under the header
    assert len(lines) == len(rows) + 2
    # Right-aligned price columns: every line's input price ends at the same column.
    header_end = lines[0].index("input $/1M") + len("input $/1M")
    for line, row in zip(lines[2:], rows, strict=True):
        assert line[:header_end].endswith(row[1])
