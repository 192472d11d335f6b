"""Economy parameters of one tenant, validated as a whole on every change.

Rates are exact fractions; money and points are integers of minor units. ``Params.updated``
takes outside values (decimal strings, lists, booleans) by name, refuses unknown names and any
combination that breaks economy.md's validation, and names the bad field in its error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, TypeVar

from tokenmall.domain.errors import DomainError, InvalidParameter
from tokenmall.domain.money import (
    MONEY_SCALE,
    POINT_SCALE,
    format_money,
    format_points,
    format_rate,
    parse_money,
    parse_points,
    parse_rate,
)

T = TypeVar("T")

MAX_REFERRAL_LEVELS = 3  # deeper chains are pyramid selling under Chinese law
DIVIDEND_WEIGHTS = ("points", "shares")
GRANT_ON = ("paid", "completed")
# Where a buyback's fee goes (rule 2): the dividend pool (the seeds' rule) or the backing pool.
SELL_FEE_TO = ("dividend_pool", "backing_pool")

DEFAULT_LEVELS: tuple[tuple[int, str], ...] = (
    (0, "普通"),
    (10, "银牌"),
    (50, "金牌"),
    (200, "合伙人"),
)


@dataclass(frozen=True, slots=True)
class Params:
    initial_price: Fraction = Fraction(1)  # yuan per point
    pool_rate: Fraction = Fraction(3, 10)
    grant_rate: Fraction = Fraction(7, 10)
    referral_rates: tuple[Fraction, ...] = (Fraction(1, 10),)
    dividend_rate: Fraction = Fraction(3, 10)
    quota_multiple: Fraction = Fraction(2)
    sell_fee_rate: Fraction = Fraction(1, 10)
    sell_fee_to: str = "dividend_pool"
    convert_fee_rate: Fraction = Fraction(0)
    max_supply_units: int = 100_000_000 * POINT_SCALE
    share_unit_fen: int = 200 * MONEY_SCALE
    levels: tuple[tuple[int, str], ...] = DEFAULT_LEVELS
    dividend_weight: str = "points"
    forced_exit: bool = True
    grant_on: str = "completed"
    commission_rates: tuple[Fraction, ...] = field(default=())

    def __post_init__(self) -> None:
        validate(self)

    @property
    def initial_price_fen_per_unit(self) -> Fraction:
        return self.initial_price * Fraction(MONEY_SCALE, POINT_SCALE)

    def updated(self, changes: Mapping[str, Any]) -> Params:
        """A new parameter set with ``changes`` (outside values, by public name) applied."""
        values: dict[str, Any] = {}
        for name, raw in changes.items():
            parser = _PARSERS.get(name)
            if parser is None:
                known = ", ".join(sorted(_PARSERS))
                raise InvalidParameter(name, f"unknown parameter (known: {known})")
            attr, value = parser(name, raw)
            values[attr] = value
        return replace(self, **values)

    def to_public(self) -> dict[str, Any]:
        """Parameters as outside values (decimal strings), the inverse of ``updated``."""
        return {
            "initial_price": format_rate(self.initial_price),
            "pool_rate": format_rate(self.pool_rate),
            "grant_rate": format_rate(self.grant_rate),
            "referral_rates": [format_rate(r) for r in self.referral_rates],
            "dividend_rate": format_rate(self.dividend_rate),
            "quota_multiple": format_rate(self.quota_multiple),
            "sell_fee_rate": format_rate(self.sell_fee_rate),
            "sell_fee_to": self.sell_fee_to,
            "convert_fee_rate": format_rate(self.convert_fee_rate),
            "max_supply": format_points(self.max_supply_units),
            "share_unit": format_money(self.share_unit_fen),
            "levels": [[shares, name] for shares, name in self.levels],
            "dividend_weight": self.dividend_weight,
            "forced_exit": self.forced_exit,
            "grant_on": self.grant_on,
            "commission_rates": [format_rate(r) for r in self.commission_rates],
        }

    def level_for(self, shares: int) -> str:
        name = self.levels[0][1]
        for threshold, level_name in self.levels:
            if shares >= threshold:
                name = level_name
            else:
                break
        return name


def validate(p: Params) -> None:
    for name in ("pool_rate", "grant_rate", "dividend_rate", "sell_fee_rate", "convert_fee_rate"):
        _check_unit_rate(name, getattr(p, name))
    if len(p.referral_rates) > MAX_REFERRAL_LEVELS:
        raise InvalidParameter("referral_rates", f"at most {MAX_REFERRAL_LEVELS} levels, ever")
    for rate in p.referral_rates:
        _check_unit_rate("referral_rates", rate)
    if len(p.commission_rates) > MAX_REFERRAL_LEVELS:
        raise InvalidParameter("commission_rates", f"at most {MAX_REFERRAL_LEVELS} levels, ever")
    for rate in p.commission_rates:
        _check_unit_rate("commission_rates", rate)
    if p.grant_rate + sum(p.referral_rates) > 1:
        raise InvalidParameter(
            "grant_rate",
            "grant_rate + sum(referral_rates) must be at most 1, else the price could fall",
        )
    if p.pool_rate + p.dividend_rate + sum(p.commission_rates) > 1:
        raise InvalidParameter(
            "dividend_rate", "pool_rate + dividend_rate + commission rates must be at most 1"
        )
    if p.initial_price <= 0:
        raise InvalidParameter("initial_price", "must be greater than zero")
    if p.quota_multiple < 0:
        raise InvalidParameter("quota_multiple", "must not be negative")
    if p.max_supply_units <= 0:
        raise InvalidParameter("max_supply", "must be greater than zero")
    if p.share_unit_fen <= 0:
        raise InvalidParameter("share_unit", "must be greater than zero")
    if not p.levels or p.levels[0][0] != 0:
        raise InvalidParameter("levels", "the first level must start at 0 shares")
    thresholds = [threshold for threshold, _ in p.levels]
    if thresholds != sorted(set(thresholds)):
        raise InvalidParameter("levels", "share thresholds must be strictly increasing")
    if p.dividend_weight not in DIVIDEND_WEIGHTS:
        raise InvalidParameter("dividend_weight", f"must be one of {', '.join(DIVIDEND_WEIGHTS)}")
    if p.grant_on not in GRANT_ON:
        raise InvalidParameter("grant_on", f"must be one of {', '.join(GRANT_ON)}")
    if p.sell_fee_to not in SELL_FEE_TO:
        raise InvalidParameter("sell_fee_to", f"must be one of {', '.join(SELL_FEE_TO)}")


def _check_unit_rate(name: str, rate: Fraction) -> None:
    if not 0 <= rate <= 1:
        raise InvalidParameter(name, f"must be between 0 and 1, got {format_rate(rate)}")


# Parsers from outside values: each returns (attribute name, typed value).


def _wrap(name: str, call: Callable[..., T], *args: Any) -> T:
    try:
        return call(*args)
    except InvalidParameter:
        raise
    except DomainError as exc:
        raise InvalidParameter(name, str(exc)) from None


def _rate(name: str, raw: Any) -> tuple[str, Fraction]:
    return name, _wrap(name, parse_rate, raw, name)


def _rates(name: str, raw: Any) -> tuple[str, tuple[Fraction, ...]]:
    if not isinstance(raw, list):
        raise InvalidParameter(name, 'must be a list of decimal strings such as ["0.10"]')
    return name, tuple(_wrap(name, parse_rate, item, name) for item in raw)


def _initial_price(name: str, raw: Any) -> tuple[str, Fraction]:
    return name, _wrap(name, parse_rate, raw, name)


def _max_supply(name: str, raw: Any) -> tuple[str, int]:
    return "max_supply_units", _wrap(name, parse_points, raw, name)


def _share_unit(name: str, raw: Any) -> tuple[str, int]:
    return "share_unit_fen", _wrap(name, parse_money, raw, name)


def _choice(name: str, raw: Any) -> tuple[str, str]:
    if not isinstance(raw, str):
        raise InvalidParameter(name, f"must be a string, got {raw!r}")
    return name, raw


def _flag(name: str, raw: Any) -> tuple[str, bool]:
    if isinstance(raw, bool):
        return name, raw
    if raw in ("on", "true"):
        return name, True
    if raw in ("off", "false"):
        return name, False
    raise InvalidParameter(name, f"must be true or false, got {raw!r}")


def _levels(name: str, raw: Any) -> tuple[str, tuple[tuple[int, str], ...]]:
    if not isinstance(raw, list) or not raw:
        raise InvalidParameter(name, 'must be a list such as [[0, "普通"], [10, "银牌"]]')
    levels: list[tuple[int, str]] = []
    for item in raw:
        if isinstance(item, dict):
            shares, title = item.get("shares"), item.get("name")
        elif isinstance(item, list) and len(item) == 2:
            shares, title = item
        else:
            raise InvalidParameter(name, f"each level is [shares, name], got {item!r}")
        if isinstance(shares, str) and shares.isdigit():
            shares = int(shares)
        if isinstance(shares, bool) or not isinstance(shares, int) or shares < 0:
            raise InvalidParameter(name, f"shares must be a whole number >= 0, got {shares!r}")
        if not isinstance(title, str) or not title.strip():
            raise InvalidParameter(name, f"a level needs a name, got {title!r}")
        levels.append((shares, title))
    return name, tuple(levels)


_PARSERS: dict[str, Any] = {
    "initial_price": _initial_price,
    "pool_rate": _rate,
    "grant_rate": _rate,
    "referral_rates": _rates,
    "dividend_rate": _rate,
    "quota_multiple": _rate,
    "sell_fee_rate": _rate,
    "sell_fee_to": _choice,
    "convert_fee_rate": _rate,
    "max_supply": _max_supply,
    "share_unit": _share_unit,
    "levels": _levels,
    "dividend_weight": _choice,
    "forced_exit": _flag,
    "grant_on": _choice,
    "commission_rates": _rates,
}

PARAMETER_NAMES = tuple(_PARSERS)

# The seed's wine example as replay.md's ``--preset seed`` defines it.
SEED = Params(dividend_rate=Fraction(1, 10))
# economy.md's parameter table.
DEFAULT = Params()
PRESETS: dict[str, Params] = {"seed": SEED, "default": DEFAULT}
