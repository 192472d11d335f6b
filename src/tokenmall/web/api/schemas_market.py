"""Request and response models of the market's API (money as decimal strings)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, cast

from pydantic import Field

from tokenmall.domain.money import format_money
from tokenmall.services.market.queries import MarketData, OrderView
from tokenmall.web.api.schemas import MoneyText, Request, Response

Id = Annotated[str, Field(max_length=40)]
RateText = Annotated[
    str, Field(max_length=20, description='A rate as a decimal string, such as "0.02"')
]
ProfileName = Literal["cn-gift-only", "cn-licensed", "open"]
Days = Annotated[int, Field(ge=0, le=3650)]


class ProfileIn(Request):
    profile: ProfileName
    kyc_required: bool = False


class ProfileOut(Response):
    profile: str
    kyc_required: bool


class CollectionSettingsIn(Request):
    fee_rate: RateText | None = None
    royalty_rate: RateText | None = None
    band: RateText | None = None
    hold_trading_days: Days | None = None
    holder_limit: Annotated[int, Field(ge=1, le=10_000_000)] | None = None
    gift_hold_days: Days | None = None
    halted: bool | None = None


class CollectionSettingsOut(Response):
    collection_id: str
    fee_rate: str
    royalty_rate: str
    band: str | None
    hold_trading_days: int | None
    holder_limit: int | None
    gift_hold_days: int | None
    halted: bool


class HolidayIn(Request):
    day: Annotated[date, Field(strict=False, description="An ISO date, such as 2027-02-10")]
    workday: bool = False


class HolidayOut(Response):
    day: date
    workday: bool


class HolidaysOut(Response):
    holidays: list[HolidayOut]


class ListIn(Request):
    collection_id: Id
    serial: Annotated[int, Field(ge=1, le=2**53)]
    price: MoneyText
    valid_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class OfferIn(Request):
    collection_id: Id
    serial: Annotated[int, Field(ge=1, le=2**53)]
    to_user_id: Id
    price: MoneyText
    valid_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class GiftIn(Request):
    collection_id: Id
    serial: Annotated[int, Field(ge=1, le=2**53)]
    to_user_id: Id


class OrderOut(Response):
    order_id: int
    kind: str
    user_id: str
    collection_id: str
    serial: int | None
    to_user_id: str | None
    price: str
    status: str
    reason: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: OrderView) -> OrderOut:
        return cls(
            order_id=row.order_id,
            kind=row.kind,
            user_id=row.user_id,
            collection_id=row.collection_id,
            serial=row.serial,
            to_user_id=row.to_user_id,
            price=format_money(row.price),
            status=row.status,
            reason=row.reason,
            created_at=row.created_at,
        )


class OrderList(Response):
    orders: list[OrderOut]


class GiftOut(Response):
    collection_id: str
    serial: int
    owner_id: str


class LevelOut(Response):
    price: str
    orders: int


class CandleOut(Response):
    day: date
    open: str
    high: str
    low: str
    close: str
    volume: str
    trades: int


class MarketDataOut(Response):
    collection_id: str
    floor: str | None
    highest_bid: str | None
    last_price: str | None
    volume_24h: str
    holders: int
    candles: list[CandleOut]
    bids: list[LevelOut]
    asks: list[LevelOut]

    @classmethod
    def of(cls, d: MarketData) -> MarketDataOut:
        def money(fen: int | None) -> str | None:
            return None if fen is None else format_money(fen)

        return cls(
            collection_id=d.collection_id,
            floor=money(d.floor),
            highest_bid=money(d.highest_bid),
            last_price=money(d.last_price),
            volume_24h=format_money(d.volume_24h),
            holders=d.holders,
            candles=[
                CandleOut(
                    day=cast(date, c.key), open=format_money(c.open), high=format_money(c.high),
                    low=format_money(c.low), close=format_money(c.close),
                    volume=format_money(c.volume), trades=c.trades,
                )
                for c in d.candles
            ],
            bids=[LevelOut(price=format_money(p), orders=n) for p, n in d.depth.bids],
            asks=[LevelOut(price=format_money(p), orders=n) for p, n in d.depth.asks],
        )  # fmt: skip
