"""The admin's market settings: the tenant's profile, a collection's settings and halt, the
trading calendar's holidays. Values are validated by the domain's own constructors
(``profile``, ``collection_rules``); a profile change closes every open order."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from fractions import Fraction

from tokenmall.adapters.db.market.store import CollectionSettings as CollectionSettings
from tokenmall.adapters.db.market.store import MarketSettings
from tokenmall.adapters.db.market.tables import PPM
from tokenmall.domain.errors import DomainError
from tokenmall.domain.mall.people import Role
from tokenmall.domain.market import Code, MarketRefused, collection_rules, profile
from tokenmall.domain.money import format_rate, parse_money, parse_rate
from tokenmall.domain.nfg.records import TokenState
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.uow import MallUnitOfWork
from tokenmall.services.market.persist import release_bid
from tokenmall.services.nfg import registry

ADMIN = (Role.ADMIN,)


def rate_text(ppm: int) -> str:
    return format_rate(Fraction(ppm, PPM))


def price_fen(text: object, field: str = "price") -> int:
    """A price as a decimal string with at most 2 places, to fen (``invalid_input`` else)."""
    try:
        return parse_money(text, field)
    except DomainError as bad:
        raise MarketRefused(Code.INVALID_INPUT, str(bad), field) from None


def _ppm(text: object, field: str) -> int:
    try:
        rate = parse_rate(text, field)
    except DomainError as bad:
        raise MarketRefused(Code.INVALID_INPUT, str(bad), field) from None
    scaled = rate * PPM
    if scaled.denominator != 1:
        raise MarketRefused(Code.INVALID_INPUT, f"{field} has more than 6 decimal places", field)
    return int(scaled)


def settings(unit: MallUnitOfWork, caller: Principal | None, tenant_id: str) -> MarketSettings:
    require(caller, tenant_id, ADMIN)
    return unit.market.settings(tenant_id) or MarketSettings(tenant_id, "open", False)


def set_profile(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    name: str,
    kyc_required: bool,
    now: datetime,
) -> MarketSettings:
    """Choose the tenant's profile; when it changes, every open order is closed (cancelled,
    listed tokens freed, bids' cash returned)."""
    require(caller, tenant_id, ADMIN)
    profile(name)  # invalid_input for an unknown name
    old = unit.market.settings(tenant_id)
    changing = old is not None and old.profile != name
    if changing:  # the lock order of every market action: tokens first, then the settings
        listed = {
            (row.collection_id, row.serial)
            for row in unit.market.open_orders_of_tenant(tenant_id)
            if row.serial is not None
        }
        for collection_id, serial in sorted(listed):
            unit.nfg.get_token(tenant_id, collection_id, serial, for_update=True)
    new = MarketSettings(tenant_id, name, kyc_required)
    unit.market.put_settings(new, now)
    if changing:
        for row in unit.market.open_orders_of_tenant(tenant_id, for_update=True):
            unit.market.close_order(tenant_id, row.order_id, "cancelled", "profile_changed", now)
            if row.kind == "bid":  # its reservation back, once (the key persist's release uses)
                release_bid(unit, tenant_id, row.order_id, row.user_id, row.price)
            if row.kind == "listing" and row.serial is not None:
                unit.nfg.move_token(
                    tenant_id, row.collection_id, row.serial, state=TokenState.HELD, now=now
                )
    return new


@dataclass(frozen=True, slots=True)
class CollectionChange:
    """Decimal strings for rates; None leaves a value as it is (``clear`` names values to
    reset to the profile's default)."""

    fee_rate: str | None = None
    royalty_rate: str | None = None
    band: str | None = None
    hold_trading_days: int | None = None
    holder_limit: int | None = None
    gift_hold_days: int | None = None
    halted: bool | None = None


def collection_settings(
    unit: MallUnitOfWork, caller: Principal | None, tenant_id: str, collection_id: str
) -> CollectionSettings:
    require(caller, tenant_id, ADMIN)
    registry.find(unit, tenant_id, collection_id)
    return unit.market.collection(tenant_id, collection_id) or CollectionSettings(
        tenant_id, collection_id
    )


def set_collection(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    collection_id: str,
    change: CollectionChange,
    now: datetime,
) -> CollectionSettings:
    """Change a collection's market settings (halt: ``halted``); validated under the profile."""
    old = collection_settings(unit, caller, tenant_id, collection_id)
    new = old
    if change.fee_rate is not None:
        new = replace(new, fee_ppm=_ppm(change.fee_rate, "fee_rate"))
    if change.royalty_rate is not None:
        new = replace(new, royalty_ppm=_ppm(change.royalty_rate, "royalty_rate"))
    if change.band is not None:
        new = replace(new, band_ppm=_ppm(change.band, "band"))
    for name in ("hold_trading_days", "holder_limit", "gift_hold_days", "halted"):
        value = getattr(change, name)
        if value is not None:
            new = replace(new, **{name: value})
    prof = profile(
        (unit.market.settings(tenant_id) or MarketSettings(tenant_id, "open", False)).profile
    )
    collection_rules(
        prof,
        fee_rate=Fraction(new.fee_ppm, PPM),
        royalty_rate=Fraction(new.royalty_ppm, PPM),
        band=None if new.band_ppm is None else Fraction(new.band_ppm, PPM),
        hold_trading_days=new.hold_trading_days,
        holder_limit=new.holder_limit,
        gift_hold_days=new.gift_hold_days,
    )
    unit.market.put_collection(new, now)
    return new


def holidays(
    unit: MallUnitOfWork, caller: Principal | None, tenant_id: str
) -> list[tuple[date, bool]]:
    require(caller, tenant_id, ADMIN)
    return unit.market.holidays(tenant_id)


def set_holiday(
    unit: MallUnitOfWork, caller: Principal | None, tenant_id: str, day: date, workday: bool
) -> list[tuple[date, bool]]:
    require(caller, tenant_id, ADMIN)
    unit.market.put_holiday(tenant_id, day, workday)
    return unit.market.holidays(tenant_id)
