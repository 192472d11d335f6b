"""The tenant's compliance profile and each collection's market settings, as data.

A ``Profile`` says which actions exist (listings and bids, bilateral agreements, gifts), whether
both sides need real-name verification, whether non-trading days close the market, how the
holding period is counted, and the defaults a collection's ``CollectionRules`` start from
(market.md's table). Rates are exact ``Fraction``s; amounts are fen.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from fractions import Fraction

from tokenmall.domain.market.refusals import Code, MarketRefused

MAX_HOLD_DAYS = 3_650
MAX_HOLDER_LIMIT = 1_000_000


class HoldScope(StrEnum):
    """How ``hold_trading_days`` is counted."""

    NONE = "none"  # no trading hold (gifts only)
    COLLECTION = "collection"  # T+N both directions, per user and collection (cn-licensed)
    TOKEN = "token"  # per token: bought on trading day d, sellable from d + N (open)


@dataclass(frozen=True, slots=True)
class Profile:
    """One of market.md's profiles. ``kyc`` is a tenant setting under ``open``
    (``Profile.with_kyc``)."""

    name: str
    listings: bool  # 挂单, 摘牌, 求购: list, take, bid (with the order book)
    agreements: bool  # 协议转让: offer, accept
    kyc: bool  # both sides of every trade and gift verified
    closed_on_non_trading_days: bool  # market_closed for trades on non-trading days
    hold_scope: HoldScope
    min_hold_trading_days: int
    default_hold_trading_days: int
    default_gift_hold_days: int
    default_band: Fraction | None
    default_holder_limit: int | None

    def with_kyc(self, required: bool) -> Profile:
        return replace(self, kyc=required)


CN_GIFT_ONLY = Profile(
    name="cn-gift-only",
    listings=False,
    agreements=False,
    kyc=True,
    closed_on_non_trading_days=False,
    hold_scope=HoldScope.NONE,
    min_hold_trading_days=0,
    default_hold_trading_days=0,
    default_gift_hold_days=180,
    default_band=None,
    default_holder_limit=None,
)
CN_LICENSED = Profile(
    name="cn-licensed",
    listings=False,
    agreements=True,
    kyc=True,
    closed_on_non_trading_days=True,
    hold_scope=HoldScope.COLLECTION,
    min_hold_trading_days=5,
    default_hold_trading_days=5,
    default_gift_hold_days=0,
    default_band=Fraction(1, 10),
    default_holder_limit=200,
)
OPEN = Profile(
    name="open",
    listings=True,
    agreements=True,
    kyc=False,
    closed_on_non_trading_days=False,
    hold_scope=HoldScope.TOKEN,
    min_hold_trading_days=0,
    default_hold_trading_days=0,
    default_gift_hold_days=0,
    default_band=None,
    default_holder_limit=None,
)

PROFILES: dict[str, Profile] = {p.name: p for p in (CN_GIFT_ONLY, CN_LICENSED, OPEN)}
DEFAULT_PROFILE = "open"


def profile(name: str) -> Profile:
    """The profile called ``name``; ``invalid_input`` for an unknown name."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(PROFILES)
        raise MarketRefused(
            Code.INVALID_INPUT, f"unknown profile {name!r} (known: {known})", "profile"
        ) from None


@dataclass(frozen=True, slots=True)
class CollectionRules:
    """A collection's market settings. ``band`` None: no price band; ``holder_limit`` None:
    no limit. Fees are ``floor(price × rate)`` fen (``fees.split``)."""

    fee_rate: Fraction = Fraction(0)
    royalty_rate: Fraction = Fraction(0)
    band: Fraction | None = None
    hold_trading_days: int = 0
    holder_limit: int | None = None
    gift_hold_days: int = 0


def collection_rules(
    prof: Profile,
    *,
    fee_rate: Fraction = Fraction(0),
    royalty_rate: Fraction = Fraction(0),
    band: Fraction | None = None,
    hold_trading_days: int | None = None,
    holder_limit: int | None = None,
    gift_hold_days: int | None = None,
) -> CollectionRules:
    """A collection's rules: what is given, the profile's defaults for the rest, validated
    (``invalid_input`` naming the field). Under ``cn-licensed`` the hold is at least 5."""
    rules = CollectionRules(
        fee_rate=fee_rate,
        royalty_rate=royalty_rate,
        band=prof.default_band if band is None else band,
        hold_trading_days=(
            prof.default_hold_trading_days if hold_trading_days is None else hold_trading_days
        ),
        holder_limit=prof.default_holder_limit if holder_limit is None else holder_limit,
        gift_hold_days=prof.default_gift_hold_days if gift_hold_days is None else gift_hold_days,
    )
    validate_rules(prof, rules)
    return rules


def validate_rules(prof: Profile, rules: CollectionRules) -> None:
    def bad(field: str, why: str) -> MarketRefused:
        return MarketRefused(Code.INVALID_INPUT, f"{field} {why}", field)

    for field, rate in (("fee_rate", rules.fee_rate), ("royalty_rate", rules.royalty_rate)):
        if not 0 <= rate < 1:
            raise bad(field, "must be at least 0 and less than 1")
    if rules.fee_rate + rules.royalty_rate > 1:
        raise bad("royalty_rate", "and fee_rate together must not exceed 1")
    if rules.band is not None and not 0 <= rules.band <= 1:
        raise bad("band", "must be between 0 and 1")
    if not prof.min_hold_trading_days <= rules.hold_trading_days <= MAX_HOLD_DAYS:
        raise bad(
            "hold_trading_days",
            f"must be {prof.min_hold_trading_days} to {MAX_HOLD_DAYS} under {prof.name}",
        )
    if rules.holder_limit is not None and not 1 <= rules.holder_limit <= MAX_HOLDER_LIMIT:
        raise bad("holder_limit", f"must be 1 to {MAX_HOLDER_LIMIT}")
    if not 0 <= rules.gift_hold_days <= MAX_HOLD_DAYS:
        raise bad("gift_hold_days", f"must be 0 to {MAX_HOLD_DAYS}")
