"""The market pages' read models: what a page shows beside the market's own reads
(``services/market/queries.py``). The terms a collection trades under (the profile's actions,
fees, band, holds, today's trading day), the split of a price (fee, royalty, what the seller
receives: ``domain.market.fees.split``, the arithmetic a trade settles with), each collection's
summary, one's tokens of a collection, the listings one may buy with the split of each, the
agreements offered to one, one's market cash (what bids hold of it, the deposits paid in), the
user a form names and the names the pages show for users, and how many open orders a profile
change would close. Nothing here writes; every figure is an integer (fen) or a rate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from tokenmall.adapters.db.mall import people as people_repo
from tokenmall.adapters.db.market.store import OrderRow
from tokenmall.adapters.db.market.trades import DepositRow
from tokenmall.domain.market import Code, MarketRefused
from tokenmall.domain.market.calendar import business_day, calendar_day
from tokenmall.domain.market.fees import Split, band_limits, split, within_band
from tokenmall.domain.market.profiles import HoldScope
from tokenmall.domain.nfg.records import Collection, CollectionStatus, Token
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.uow import MallUnitOfWork
from tokenmall.services.market import queries
from tokenmall.services.market.admin import ADMIN, price_fen
from tokenmall.services.market.state import Loader
from tokenmall.services.nfg import registry, tokens

MAX_COLLECTIONS = 100


@dataclass(frozen=True, slots=True)
class Terms:
    """What trading a collection means today, under the tenant's profile."""

    profile: str
    listings: bool  # 挂单, 摘牌, 求购
    agreements: bool  # 协议转让
    kyc: bool  # both sides verified
    caller_kyc: bool
    trading_day: bool  # today is a trading day (weekends and holidays are not)
    closed_today: bool  # the profile closes trades on non-trading days and today is one
    halted: bool
    fee_rate: Fraction
    royalty_rate: Fraction
    band: Fraction | None
    reference: int  # the band's reference price: the last trade before today, else primary
    band_low: int | None
    band_high: int | None
    hold_scope: str
    hold_trading_days: int
    gift_hold_days: int
    holder_limit: int | None
    holders_ever: int


def terms(
    unit: MallUnitOfWork, caller: Principal | None, tenant_id: str, collection_id: str,
    now: datetime,
) -> Terms:  # fmt: skip
    who = require(caller, tenant_id, registry.EVERYONE)
    collection = registry.find(unit, tenant_id, collection_id)
    loader = Loader(unit, tenant_id, now)
    col = loader.collection(collection)
    loader.user(who.subject_id)
    prof, rules, clock = loader.prof, col.rules, loader.state.clock
    low, high = (None, None) if rules.band is None else band_limits(col.reference, rules.band)
    return Terms(
        profile=prof.name,
        listings=prof.listings,
        agreements=prof.agreements,
        kyc=prof.kyc,
        caller_kyc=loader.state.accounts[who.subject_id].kyc,
        trading_day=clock.trading,
        closed_today=prof.closed_on_non_trading_days and not clock.trading,
        halted=col.halted,
        fee_rate=rules.fee_rate,
        royalty_rate=rules.royalty_rate,
        band=rules.band,
        reference=col.reference,
        band_low=low,
        band_high=high,
        hold_scope=HoldScope(prof.hold_scope).value,
        hold_trading_days=rules.hold_trading_days,
        gift_hold_days=rules.gift_hold_days,
        holder_limit=rules.holder_limit,
        holders_ever=len(col.holders),
    )


@dataclass(frozen=True, slots=True)
class Preview:
    """A price's split as a trade would settle it, and whether today's band allows it."""

    split: Split
    in_band: bool


def preview(
    unit: MallUnitOfWork, caller: Principal | None, tenant_id: str, collection_id: str,
    price: object, now: datetime,
) -> Preview:  # fmt: skip
    """The split of ``price`` (a decimal string, ``invalid_input`` naming ``price`` else)
    under the collection's fee and royalty rates; nothing written."""
    fen = price_fen(price)
    if fen <= 0:
        raise MarketRefused(Code.INVALID_INPUT, "price must be greater than 0", "price")
    found = terms(unit, caller, tenant_id, collection_id, now)
    return Preview(
        split(fen, found.fee_rate, found.royalty_rate),
        within_band(fen, found.reference, found.band),
    )


@dataclass(frozen=True, slots=True)
class Summary:
    collection: Collection
    data: queries.MarketData


def overview(
    unit: MallUnitOfWork, caller: Principal | None, tenant_id: str, now: datetime
) -> list[Summary]:
    """Every published collection with its market data (floor, last price, 24 h volume,
    holders), in the registry's order."""
    require(caller, tenant_id, registry.EVERYONE)
    found = registry.listing(unit, caller, tenant_id, after=None, limit=MAX_COLLECTIONS)
    return [
        Summary(c, queries.data(unit, caller, tenant_id, c.collection_id, now))
        for c in found
        if c.status == CollectionStatus.PUBLISHED
    ]


def my_tokens(
    unit: MallUnitOfWork, caller: Principal | None, tenant_id: str, collection_id: str
) -> list[Token]:
    """The caller's tokens of the collection (any state: a listed one shows as listed)."""
    return [t for c, t in tokens.mine(unit, caller, tenant_id) if c.collection_id == collection_id]


def recipient(unit: MallUnitOfWork, tenant_id: str, named: str, field: str = "to") -> str:
    """The user a form names by email or user id; ``not_found`` naming ``field`` else."""
    text = named.strip()
    if "@" in text:
        row = None if len(text) > 254 else people_repo.login_row(unit.conn, tenant_id, text.lower())
        found = None if row is None else str(row[0])
    else:
        user = unit.people.get_user(tenant_id, text) if 0 < len(text) <= 40 else None
        found = None if user is None else user.user_id
    if found is None:
        raise MarketRefused(Code.NOT_FOUND, f"no user {text!r} in this shop", field)
    return found


def open_orders(unit: MallUnitOfWork, caller: Principal | None, tenant_id: str) -> int:
    """How many orders are open now: the ones a change of profile would close."""
    require(caller, tenant_id, ADMIN)
    return len(unit.market.open_orders_of_tenant(tenant_id))


@dataclass(frozen=True, slots=True)
class Listing:
    """An open listing of a collection: the split its price settles with, and whether it is
    the caller's own (which they cannot buy: ``self_trade``)."""

    order: OrderRow
    split: Split
    mine: bool


MAX_LISTINGS = 50


def listings(
    unit: MallUnitOfWork, caller: Principal | None, tenant_id: str, collection_id: str,
    now: datetime,
) -> list[Listing]:  # fmt: skip
    """The collection's open listings, cheapest first (the earliest on a tie)."""
    who = require(caller, tenant_id, registry.EVERYONE)
    found = terms(unit, caller, tenant_id, collection_id, now)
    rows = [
        r
        for r in unit.market.open_orders_of_collection(
            tenant_id, collection_id, calendar_day(business_day(now))
        )
        if r.kind == "listing"
    ]
    rows.sort(key=lambda r: (r.price, r.order_id))
    return [
        Listing(r, split(r.price, found.fee_rate, found.royalty_rate), r.user_id == who.subject_id)
        for r in rows[:MAX_LISTINGS]
    ]


@dataclass(frozen=True, slots=True)
class OfferToMe:
    """An agreement (协议转让) naming the caller as its buyer, with its collection and the split
    its price settles with."""

    order: OrderRow
    collection: Collection
    split: Split


def offers_to_me(
    unit: MallUnitOfWork, caller: Principal | None, tenant_id: str, now: datetime
) -> list[OfferToMe]:
    who = require(caller, tenant_id, registry.EVERYONE)
    shown: list[OfferToMe] = []
    rates: dict[str, Terms] = {}
    for row in unit.market.offers_to_user(tenant_id, who.subject_id):
        cid = row.collection_id
        if cid not in rates:
            rates[cid] = terms(unit, caller, tenant_id, cid, now)
        t = rates[cid]
        collection = registry.find(unit, tenant_id, cid)
        shown.append(OfferToMe(row, collection, split(row.price, t.fee_rate, t.royalty_rate)))
    return shown


@dataclass(frozen=True, slots=True)
class Cash:
    """One's market cash: ``available`` is the ledger's cash balance (what a bid or a purchase
    spends, what a withdrawal takes from), ``reserved`` what one's open bids hold apart from
    it; the latest deposits paid in through the gateway."""

    available: int
    reserved: int
    deposits: list[DepositRow]


def cash(unit: MallUnitOfWork, caller: Principal | None, tenant_id: str, shown: int = 10) -> Cash:
    who = require(caller, tenant_id, registry.EVERYONE).subject_id
    return Cash(
        unit.cash.cash_of(tenant_id, who),
        unit.market.reserved_by_bids(tenant_id, who),
        unit.market.deposits_of_user(tenant_id, who, shown),
    )


def user_names(
    unit: MallUnitOfWork, caller: Principal | None, tenant_id: str, user_ids: Iterable[str]
) -> dict[str, str]:
    """The name a page shows for each user (their display name, else their email's name part;
    a user id no longer found shows as it is)."""
    require(caller, tenant_id, registry.EVERYONE)
    names: dict[str, str] = {}
    for user_id in set(user_ids):
        user = unit.people.get_user(tenant_id, user_id)
        if user is None:
            names[user_id] = user_id
        else:
            names[user_id] = user.display_name or user.email.split("@", 1)[0]
    return names


def collections(
    unit: MallUnitOfWork, caller: Principal | None, tenant_id: str
) -> dict[str, Collection]:
    """The collections the caller may see, by id (the console's labels and filter)."""
    found = registry.listing(unit, caller, tenant_id, after=None, limit=MAX_COLLECTIONS)
    return {c.collection_id: c for c in found}
