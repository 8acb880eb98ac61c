"""Money: integer picodollars (1 USD = 10**12 pUSD), parsed and written in one place.

Every amount inside teamgate is an ``int`` of picodollars; dollars exist only at
the edges (configuration in, text out). Groq quotes prices in USD per 1M tokens
with at most six decimals, so ``tokens x price`` is an exact integer and sums of
any number of costs stay exact.

The rules, the only ones in the code base:

* **Parsing never rounds.** :func:`usd_to_pico` turns a ``Decimal`` of dollars
  into picodollars exactly and raises ``ValueError`` for anything finer than a
  picodollar (or not finite).
* **Machine formats never round.** JSON, CSV and the admin API carry
  :func:`exact_usd` (all twelve decimals) next to the integer picodollars.
* **Text for people rounds half up** (``ROUND_HALF_UP``, away from zero on a
  tie): :func:`format_usd` to cents with thousands separators, or, below one
  cent, to three significant digits so a small spend never reads ``$0.00``;
  :func:`usd_text` to a fixed number of places without the ``$`` (headers,
  webhook payloads).

>>> usd_to_pico(Decimal("12.34"))
12340000000000
>>> exact_usd(1_500_000_000_000), usd_text(199_985_000_000_000), usd_text(5, 6)
('1.500000000000', '199.99', '0.000000')
>>> format_usd(12_345_000_000_000), format_usd(669_000_000), format_usd(-5 * 10**11)
('$12.35', '$0.000669', '-$0.50')
>>> format_usd_amount(Decimal("1000")), format_usd_amount(None)
('$1,000.00', '-')
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

PICO_PER_USD = 10**12
_PLACES = 12  # decimal places of a picodollar
_CENT = PICO_PER_USD // 100


def scaled_exact(amount: Decimal, places: int) -> int:
    """``amount * 10**places`` as an int, exactly; ValueError when it is not integral.

    >>> scaled_exact(Decimal("0.59"), 6), scaled_exact(Decimal("-2.5"), 1)
    (590000, -25)
    >>> scaled_exact(Decimal("0.0000001"), 6)
    Traceback (most recent call last):
    ...
    ValueError: 1E-7 has more decimals than 6 (not exact)
    """
    if not amount.is_finite():
        raise ValueError(f"{amount} is not a finite amount")
    sign, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)  # finite, checked above
    mantissa = int("".join(map(str, digits))) if digits else 0
    shift = exponent + places
    scale: int = 10 ** abs(shift)
    if shift >= 0:
        value = mantissa * scale
    else:
        value, remainder = divmod(mantissa, scale)
        if remainder:
            raise ValueError(f"{amount} has more decimals than {places} (not exact)")
    return -value if sign else value


def scaled_decimal(value: int, places: int) -> Decimal:
    """``value / 10**places`` as an exact Decimal (no context rounding, any size).

    >>> scaled_decimal(590000, 6), scaled_decimal(-25, 1)
    (Decimal('0.590000'), Decimal('-2.5'))
    """
    digits = tuple(int(c) for c in str(abs(value)))
    return Decimal((1 if value < 0 else 0, digits, -places))


def usd_to_pico(amount: Decimal) -> int:
    """Dollars to picodollars, exactly; ValueError below one picodollar or not finite.

    >>> usd_to_pico(Decimal("0.000000000001")), usd_to_pico(Decimal("1E+3"))
    (1, 1000000000000000)
    """
    return scaled_exact(amount, _PLACES)


def pico_to_decimal_usd(pico: int) -> Decimal:
    """Picodollars to an exact Decimal of dollars (twelve places).

    >>> pico_to_decimal_usd(1_500_000_000_000)
    Decimal('1.500000000000')
    """
    return scaled_decimal(pico, _PLACES)


def exact_usd(pico: int | None) -> str | None:
    """Exact dollars as text for machines, all twelve decimals; None stays None.

    >>> exact_usd(0), exact_usd(-1), exact_usd(None)
    ('0.000000000000', '-0.000000000001', None)
    """
    return None if pico is None else f"{pico_to_decimal_usd(pico):f}"


def usd_text(pico: int, places: int = 2) -> str:
    """Dollars with ``places`` decimals, rounded half up, no ``$``: ``"160.00"``.

    >>> usd_text(160 * PICO_PER_USD), usd_text(5_000_000_000), usd_text(4_999_999_999)
    ('160.00', '0.01', '0.00')
    """
    # Integer arithmetic, exactly what Decimal's ROUND_HALF_UP gives (ties away from
    # zero), at a tenth of the cost: this writes a header on every answer.
    step = 10 ** (_PLACES - places) if places <= _PLACES else 1
    units, rest = divmod(abs(pico), step)
    if 2 * rest >= step:
        units += 1
    if places > _PLACES:
        units *= 10 ** (places - _PLACES)
    whole, frac = divmod(units, 10**places)
    sign = "-" if pico < 0 else ""
    return f"{sign}{whole}.{frac:0{places}d}" if places else f"{sign}{whole}"


def format_usd(pico: int) -> str:
    """Picodollars for people: ``$1,234.57``; a sub-cent amount is never ``$0.00``.

    >>> format_usd(1_234_567_890_000_000_000), format_usd(0), format_usd(98_000_000)
    ('$1,234,567.89', '$0.00', '$0.000098')
    >>> format_usd(80_000), format_usd(4_999_999_999), format_usd(1), format_usd(-1)
    ('$0.00000008', '$0.005', '$0.000000000001', '-$0.000000000001')
    """
    sign = "-" if pico < 0 else ""
    amount = abs(pico)
    places = 2
    if 0 < amount < _CENT:
        # three significant digits (then trailing zeros dropped)
        places = min(_PLACES - len(str(amount)) + 3, _PLACES)
    value = pico_to_decimal_usd(amount).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    if value.is_zero():
        sign = ""
    text = f"{value:,.{places}f}"
    if places > 2:
        text = text.rstrip("0")  # sub-cent: its significant digits, no trailing zeros
    return f"{sign}${text}"


def format_usd_amount(amount: Decimal | None) -> str:
    """A configured dollar amount (a budget) as :func:`format_usd` writes it; ``-`` for none.

    >>> format_usd_amount(Decimal("0.125")), format_usd_amount(Decimal("50"))
    ('$0.13', '$50.00')
    """
    return "-" if amount is None else format_usd(usd_to_pico(amount))
