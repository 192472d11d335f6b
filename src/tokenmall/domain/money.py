"""Money, points, rates and prices as exact integers.

Money is held in fen (minor units, 0.01), equity points in units of 1e-8 point, stable points
in fen (one stable point is pegged to one unit of money). Rates are exact fractions parsed from
decimal strings. A price is never stored: it is the fraction ``pool_fen / circulating_units``
(fen per point unit), carried as a numerator/denominator pair and only rounded for display.

Every division that decides who gets what rounds down (``//``), in the platform's favour; the
remainder stays where it came from. That single rule is what keeps the price from falling.

Decimal strings are the only way in and out: ``parse_*`` at the edges, ``format_*`` for output.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

from tokenmall.domain.errors import InvalidAmount

MONEY_PLACES = 2
POINT_PLACES = 8
MONEY_SCALE = 10**MONEY_PLACES  # fen per yuan
POINT_SCALE = 10**POINT_PLACES  # units per point
# A price in fen per unit becomes yuan per point by this factor (1e8 / 1e2).
PRICE_DISPLAY_FACTOR = POINT_SCALE // MONEY_SCALE

# ASCII digits only, nothing around them: "１２", " 1.00", "1.00\n" and "1_0" are refused.
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def _parse_decimal(text: object, what: str) -> Decimal:
    """The one way a Decimal is made from outside input: a plain decimal string."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise InvalidAmount(f'{what} must be a decimal string such as "100.00", got {text!r}')
    if not _DECIMAL.fullmatch(text):
        raise InvalidAmount(
            f"{what} must be a plain decimal number of the digits 0-9, got {text!r}"
        )
    return Decimal(text)


def _to_scaled(value: Decimal, places: int, what: str, text: str) -> int:
    # From the digits, in integers: ``scaleb`` rounds to the context's 28 digits, so a value
    # with more significant digits than that came back changed (found by a property test).
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # a plain decimal string: never NaN or infinite
    number = int("".join(map(str, digits)))
    shift = exponent + places
    scaled: int
    if shift >= 0:
        scaled = number * 10**shift
    else:
        scaled, rest = divmod(number, 10**-shift)
        if rest:
            raise InvalidAmount(f"{what} has more than {places} decimal places: {text!r}")
    return -scaled if sign else scaled


def parse_money(text: object, what: str = "amount", *, allow_zero: bool = False) -> int:
    """A positive (or, if allowed, zero) amount of money as a decimal string, to fen."""
    value = _parse_decimal(text, what)
    fen = _to_scaled(value, MONEY_PLACES, what, str(text))
    _check_sign(fen, what, str(text), allow_zero)
    return fen


def parse_points(text: object, what: str = "points", *, allow_zero: bool = False) -> int:
    """A positive (or, if allowed, zero) number of points as a decimal string, to 1e-8 units."""
    value = _parse_decimal(text, what)
    units = _to_scaled(value, POINT_PLACES, what, str(text))
    _check_sign(units, what, str(text), allow_zero)
    return units


def _check_sign(scaled: int, what: str, text: str, allow_zero: bool) -> None:
    if scaled < 0:
        raise InvalidAmount(f"{what} must not be negative, got {text!r}")
    if scaled == 0 and not allow_zero:
        raise InvalidAmount(f"{what} must be greater than zero, got {text!r}")


def parse_rate(text: object, what: str = "rate") -> Fraction:
    """An exact rate from a decimal string ("0.30" is exactly 3/10)."""
    return Fraction(_parse_decimal(text, what))


def format_money(fen: int) -> str:
    return _format_scaled(fen, MONEY_PLACES)


def format_points(units: int) -> str:
    return _format_scaled(units, POINT_PLACES)


def format_rate(rate: Fraction) -> str:
    """A rate back to the shortest exact decimal string (rates come from decimals)."""
    value = Decimal(rate.numerator) / Decimal(rate.denominator)
    return format(value.normalize(), "f")


def _format_scaled(value: int, places: int) -> str:
    # The digits with a point put in (string slicing: half the time of divmod and a format
    # spec; every booked purchase formats seven amounts).
    text = str(value) if value >= 0 else str(-value)
    if len(text) <= places:
        text = text.rjust(places + 1, "0")
    text = text[:-places] + "." + text[-places:]
    return text if value >= 0 else "-" + text


def price_to_decimal(num: int, den: int, places: int = 8) -> Decimal:
    """A price held as fen per unit (num/den), in yuan per point, rounded half-even."""
    return Decimal(format_price(num, den, places))  # exact: no context precision involved


def format_price(num: int, den: int, places: int = 8) -> str:
    """The price num/den (fen per unit) in yuan per point with ``places`` decimals, rounded
    half to even, in integers only (it runs once per booked purchase)."""
    if den == 0:
        raise ZeroDivisionError("a price needs a non-zero denominator")
    if den < 0:
        num, den = -num, -den
    q, r = divmod(num * PRICE_DISPLAY_FACTOR * 10**places, den)
    twice = 2 * r
    if twice > den or (twice == den and q % 2):  # half to even, as ``round(Fraction)``
        q += 1
    return _format_scaled(q, places) if places else str(q)
