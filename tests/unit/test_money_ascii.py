"""Only ASCII digits make a number: full-width or other Unicode digits are refused."""

import pytest

from tokenmall.domain.errors import InvalidAmount
from tokenmall.domain.money import parse_money, parse_points


@pytest.mark.parametrize("text", ["１２", "12.５", "٣", "1\u00b2"])
def test_unicode_digits_are_refused(text: str) -> None:
    with pytest.raises(InvalidAmount, match="plain decimal"):
        parse_money(text)
    with pytest.raises(InvalidAmount, match="plain decimal"):
        parse_points(text)


def test_ascii_digits_still_parse() -> None:
    assert parse_money("12.50") == 1250
    assert parse_points("0.00000001") == 1
