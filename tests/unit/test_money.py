"""domain/money.py: decimal strings in, integers of minor units inside, exact strings out."""

from __future__ import annotations

from decimal import Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokenmall.domain.errors import InvalidAmount
from tokenmall.domain.money import (
    PRICE_DISPLAY_FACTOR,
    format_money,
    format_points,
    format_price,
    format_rate,
    parse_money,
    parse_points,
    parse_rate,
    price_to_decimal,
)


@pytest.mark.parametrize(
    ("text", "fen"),
    [("100.00", 10_000), ("100", 10_000), ("0.01", 1), ("12.3", 1_230), ("7.50", 750)],
)
def test_money_parses_to_fen(text: str, fen: int) -> None:
    assert parse_money(text) == fen


@pytest.mark.parametrize(
    ("text", "units"),
    [("21", 2_100_000_000), ("12.495", 1_249_500_000), ("0.00000001", 1)],
)
def test_points_parse_to_units_of_1e_minus_8(text: str, units: int) -> None:
    assert parse_points(text) == units


@pytest.mark.parametrize(
    "bad",
    [
        1.5,  # a binary float is never money
        100,  # nor a JSON integer
        True,
        None,
        "",
        "abc",
        "1e5",
        "1,000.00",
        "0x10",
        "NaN",
        "Infinity",
        "--1",
        "1.",
        ".5",
        " 7.50 ",  # ASCII digits only, nothing around them
        "7.50\n",
        "１.00",
        "1_0",
        "+1.00",
    ],
)
def test_money_refuses_anything_but_a_plain_decimal_string(bad: object) -> None:
    with pytest.raises(InvalidAmount):
        parse_money(bad)


def test_money_refuses_more_places_than_fen_and_names_the_field() -> None:
    with pytest.raises(InvalidAmount, match=r"^price has more than 2 decimal places"):
        parse_money("0.001", "price")


def test_points_refuse_more_than_eight_places() -> None:
    with pytest.raises(InvalidAmount, match="more than 8 decimal places"):
        parse_points("0.000000001")


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(InvalidAmount, match="must not be negative"):
        parse_money("-1.00")
    with pytest.raises(InvalidAmount, match="must not be negative"):
        parse_points("-0.5")


def test_zero_is_refused_unless_allowed() -> None:
    with pytest.raises(InvalidAmount, match="greater than zero"):
        parse_money("0.00")
    assert parse_money("0.00", allow_zero=True) == 0
    assert parse_points("0", allow_zero=True) == 0


def test_rates_are_exact_fractions() -> None:
    assert parse_rate("0.30") == Fraction(3, 10)
    assert parse_rate("0.1") + parse_rate("0.2") == Fraction(3, 10)  # not 0.30000000000000004
    assert format_rate(Fraction(3, 10)) == "0.3"
    assert format_rate(Fraction(2)) == "2"
    with pytest.raises(InvalidAmount):
        parse_rate(0.3)


def test_money_and_points_format_with_fixed_places() -> None:
    assert format_money(10_000) == "100.00"
    assert format_money(1) == "0.01"
    assert format_money(-150) == "-1.50"
    assert format_points(1_249_500_000) == "12.49500000"
    assert format_points(1) == "0.00000001"


def test_price_is_shown_from_the_exact_fraction() -> None:
    # Given 30.00 in the pool backing 21 points (fen per 1e-8 unit: 3000 / 2_100_000_000)
    # Then the price is 30 / 21 = 1.428571428… yuan per point.
    assert format_price(3_000, 2_100_000_000) == "1.42857143"
    assert format_price(3_000, 2_100_000_000, 4) == "1.4286"
    assert price_to_decimal(3_000, 2_100_000_000, 4) == Decimal("1.4286")


def test_price_rounds_half_to_even() -> None:
    # 1.000000005 yuan per point is 1_000_000_005 fen per 10**15 units.
    assert format_price(1_000_000_005, 10**15) == "1.00000000"
    assert format_price(1_000_000_015, 10**15) == "1.00000002"
    # 1.00005 and 1.00015 to 4 places.
    assert format_price(100_005, 10**11, 4) == "1.0000"
    assert format_price(100_015, 10**11, 4) == "1.0002"


@given(
    num=st.integers(min_value=0, max_value=10**18),
    den=st.integers(min_value=1, max_value=10**18),
    places=st.sampled_from([0, 2, 4, 8]),
)
def test_price_text_is_the_exact_fraction_rounded_half_to_even(
    num: int, den: int, places: int
) -> None:
    # format_price works in integers (it runs per booked purchase); it must say exactly what
    # the exact fraction, rounded half to even by Fraction and written by Decimal, says —
    # for any size (the reference gets all the precision it needs)
    rounded = round(Fraction(num * PRICE_DISPLAY_FACTOR * 10**places, den))
    with localcontext() as ctx:
        ctx.prec = 200
        expected = format(Decimal(rounded).scaleb(-places), "f")
    assert format_price(num, den, places) == expected
    assert price_to_decimal(num, den, places) == Decimal(expected)


@given(value=st.integers(min_value=-(10**30), max_value=10**30))
def test_money_and_points_text_is_the_exact_value_for_any_size(value: int) -> None:
    # Formatting slices the digits (it runs seven times per booked purchase): every value,
    # negative, below one unit or huge, reads back as exactly itself with its fixed places.
    for text, places, parse in (
        (format_money(value), 2, parse_money),
        (format_points(value), 8, parse_points),
    ):
        with localcontext() as ctx:
            ctx.prec = 100  # the reference is exact at any size
            assert Decimal(text) == Decimal(value).scaleb(-places)
        assert len(text.split(".")[1]) == places
        if value > 0:
            assert parse(text) == value


def test_amounts_parse_exactly_beyond_the_decimal_contexts_28_digits() -> None:
    # (the default Decimal context rounds to 28 significant digits)
    assert parse_money("100000000000000000000000000.01") == 10**28 + 1
    assert parse_points("12345678901234567890.12345678") == 1234567890123456789012345678
    assert parse_money("7.50") == 750
    assert parse_money("-0.00", allow_zero=True) == 0
    with pytest.raises(InvalidAmount, match="more than 2 decimal places"):
        parse_money("100000000000000000000000000.001")
