"""The money module's integer fast paths agree with Decimal exactly."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given
from hypothesis import strategies as st

from teamgate.pricing.money import pico_to_decimal_usd, usd_text


def decimal_usd_text(pico: int, places: int) -> str:
    """The rule usd_text promises, written with Decimal: half up, ties away from zero.

    (Positional notation: ``str()`` of a Decimal would write ``0E-7`` for zero at seven
    places, which the Decimal-based usd_text of before this change did.)
    """
    quantum = Decimal(1).scaleb(-places)
    return f"{pico_to_decimal_usd(pico).quantize(quantum, rounding=ROUND_HALF_UP):f}"


@given(
    st.one_of(
        st.integers(min_value=-(10**24), max_value=10**24),
        # ties and their neighbours at every number of places
        st.builds(
            lambda units, places, delta, sign: (
                sign * (units * 10**places + 5 * 10 ** (places - 1)) + delta
            ),
            st.integers(0, 10**9),
            st.integers(1, 12),
            st.integers(-1, 1),
            st.sampled_from([1, -1]),
        ),
    ),
    st.integers(min_value=0, max_value=14),
)
def test_usd_text_equals_decimal_half_up(pico: int, places: int) -> None:
    assert usd_text(pico, places) == decimal_usd_text(pico, places)


def test_usd_text_examples() -> None:
    assert usd_text(5_000_000_000) == "0.01"  # half a cent rounds up
    assert usd_text(-5_000_000_000) == "-0.01"  # away from zero
    assert usd_text(1_234_567, 6) == "0.000001"
    assert usd_text(7 * 10**12, 0) == "7"
