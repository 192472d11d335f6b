"""Parameters: economy.md's Validation paragraph, each rule naming the bad field, and changes.

A refused change leaves the economy exactly as it was (snapshot compare).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from tokenmall.domain.economy import DEFAULT, SEED, Economy, Params
from tokenmall.domain.economy.params import PARAMETER_NAMES
from tokenmall.domain.errors import InvalidParameter

POINT = 10**8


def test_seed_preset_is_replay_md_s_wine_example() -> None:
    assert SEED.initial_price == 1
    assert SEED.pool_rate == Fraction(3, 10)
    assert SEED.grant_rate == Fraction(7, 10)
    assert SEED.referral_rates == (Fraction(1, 10),)
    assert SEED.dividend_rate == Fraction(1, 10)
    assert SEED.quota_multiple == 2
    assert SEED.sell_fee_rate == Fraction(1, 10)
    assert SEED.convert_fee_rate == 0
    assert SEED.max_supply_units == 100_000_000 * POINT
    assert SEED.share_unit_fen == 200_00
    assert SEED.forced_exit is True
    assert SEED.dividend_weight == "points"


def test_default_is_economy_md_s_table() -> None:
    assert DEFAULT.dividend_rate == Fraction(3, 10)
    assert DEFAULT.grant_on == "completed"
    assert [name for _, name in DEFAULT.levels] == ["普通", "银牌", "金牌", "合伙人"]


def test_public_values_round_trip() -> None:
    assert DEFAULT.updated(DEFAULT.to_public()) == DEFAULT
    assert set(DEFAULT.to_public()) == set(PARAMETER_NAMES)


REFUSED: list[tuple[dict[str, Any], str]] = [
    # every rate in [0, 1]
    ({"pool_rate": "1.01"}, "pool_rate"),
    ({"pool_rate": "-0.1"}, "pool_rate"),
    ({"grant_rate": "1.5"}, "grant_rate"),
    ({"dividend_rate": "-0.01"}, "dividend_rate"),
    ({"sell_fee_rate": "1.1"}, "sell_fee_rate"),
    ({"convert_fee_rate": "2"}, "convert_fee_rate"),
    ({"referral_rates": ["-0.1"]}, "referral_rates"),
    ({"commission_rates": ["1.2"]}, "commission_rates"),
    # grant_rate + sum(referral_rates) <= 1, else the price could fall
    ({"grant_rate": "0.7", "referral_rates": ["0.2", "0.11"]}, "grant_rate"),
    ({"grant_rate": "0.95", "referral_rates": ["0.1"]}, "grant_rate"),
    # pool_rate + dividend_rate + commission rates <= 1
    ({"pool_rate": "0.8", "dividend_rate": "0.3"}, "dividend_rate"),
    ({"pool_rate": "0.5", "dividend_rate": "0.3", "commission_rates": ["0.21"]}, "dividend_rate"),
    # at most 3 referral levels, ever
    ({"referral_rates": ["0.1", "0.05", "0.02", "0.01"]}, "referral_rates"),
    ({"commission_rates": ["0.01", "0.01", "0.01", "0.01"]}, "commission_rates"),
    # max_supply > 0
    ({"max_supply": "0"}, "max_supply"),
    ({"max_supply": "-5"}, "max_supply"),
    # the rest of the parameter table
    ({"initial_price": "0"}, "initial_price"),
    ({"initial_price": "-1"}, "initial_price"),
    ({"quota_multiple": "-1"}, "quota_multiple"),
    ({"share_unit": "0"}, "share_unit"),
    ({"levels": [[1, "普通"]]}, "levels"),
    ({"levels": [[0, "普通"], [10, "银牌"], [10, "金牌"]]}, "levels"),
    ({"levels": []}, "levels"),
    ({"dividend_weight": "cash"}, "dividend_weight"),
    ({"grant_on": "shipped"}, "grant_on"),
    ({"forced_exit": "maybe"}, "forced_exit"),
    # malformed values and unknown names
    ({"pool_rate": 0.3}, "pool_rate"),
    ({"referral_rates": "0.1"}, "referral_rates"),
    ({"max_supply": "1.000000001"}, "max_supply"),
    ({"no_such_thing": "1"}, "no_such_thing"),
]


@pytest.mark.parametrize(("changes", "field"), REFUSED)
def test_validation_names_the_bad_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        SEED.updated(changes)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


@pytest.mark.parametrize(("changes", "field"), REFUSED)
def test_refused_change_leaves_the_economy_unchanged(
    changes: dict[str, Any], field: str, snapshot: Any
) -> None:
    # Given an economy with some history
    economy = Economy(SEED)
    economy.purchase("A", 100_00)
    before = snapshot(economy)
    # When a change that fails validation is applied
    with pytest.raises(InvalidParameter):
        economy.set_params(changes)
    # Then nothing changed
    assert snapshot(economy) == before


@pytest.mark.parametrize(
    "changes",
    [
        {"grant_rate": "0.9", "referral_rates": ["0.1"]},  # exactly 1 is allowed
        {"pool_rate": "0.7", "dividend_rate": "0.3"},
        {"pool_rate": "0.5", "dividend_rate": "0.3", "commission_rates": ["0.1", "0.1"]},
        {"referral_rates": ["0.1", "0.05", "0.05"]},
        {"referral_rates": []},
        {"max_supply": "0.00000001"},
        {"forced_exit": "off", "dividend_weight": "shares", "grant_on": "paid"},
    ],
)
def test_boundary_values_are_accepted(changes: dict[str, Any]) -> None:
    updated = SEED.updated(changes)
    assert updated != SEED


def test_params_constructed_directly_are_validated_too() -> None:
    with pytest.raises(InvalidParameter, match=r"^grant_rate: "):
        Params(grant_rate=Fraction(95, 100))


def test_change_applies_from_the_next_event_and_is_recorded() -> None:
    # Given A bought at the seed's rates
    economy = Economy(SEED)
    first = economy.purchase("A", 100_00)
    assert first.dividend == 10_00
    # When the dividend rate changes
    economy.set_params({"dividend_rate": "0.20"})
    # Then the earlier purchase is untouched, the next one uses the new rate
    assert economy.state.dividend_pool == 10_00
    second = economy.purchase("B", 100_00)
    assert second.dividend == 20_00
    assert economy.state.dividend_pool == 30_00
    assert economy.param_changes == [(2, {"dividend_rate": "0.20"})]


def test_initial_price_can_change_before_the_first_grant() -> None:
    economy = Economy(SEED)
    economy.set_params({"initial_price": "2.00"})
    assert Fraction(*economy.price()) == Fraction(200, POINT)  # 2 yuan = 200 fen per 1e8 units
    result = economy.purchase("A", 100_00)
    assert result.grants[0].units == 1_050_000_000  # 0.7 × 30.00 / 2.00 = 10.5 points


def test_initial_price_cannot_change_after_the_first_grant(snapshot: Any) -> None:
    economy = Economy(SEED)
    economy.purchase("A", 100_00)
    before = snapshot(economy)
    with pytest.raises(InvalidParameter) as caught:
        economy.set_params({"initial_price": "2.00"})
    assert caught.value.field == "initial_price"
    assert snapshot(economy) == before


def test_initial_price_is_fixed_even_when_nothing_circulates_any_more(snapshot: Any) -> None:
    economy = Economy(SEED)
    economy.purchase("A", 100_00)
    economy.sell("A", economy.holder("A").points)
    assert economy.state.circulating == 0
    before = snapshot(economy)
    with pytest.raises(InvalidParameter, match=r"^initial_price: "):
        economy.set_params({"initial_price": "0.50"})
    assert snapshot(economy) == before


def test_max_supply_cannot_go_below_what_was_minted(snapshot: Any) -> None:
    economy = Economy(SEED)
    economy.purchase("A", 100_00)  # 21 points minted
    before = snapshot(economy)
    with pytest.raises(InvalidParameter, match=r"^max_supply: "):
        economy.set_params({"max_supply": "20.99999999"})
    assert snapshot(economy) == before
    economy.set_params({"max_supply": "21"})
    assert economy.params.max_supply_units == 21 * POINT
