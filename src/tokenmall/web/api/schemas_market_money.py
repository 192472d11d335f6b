"""Request and response models of the market's money API: bids, trades, deposits, royalties."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import Field

from tokenmall.domain.money import format_money
from tokenmall.services.market.queries import TradeReport, TradeView
from tokenmall.services.market.royalties import IssuerRoyalties, PayoutRow, RoyaltyReport
from tokenmall.web.api.schemas import MoneyText, Request, Response
from tokenmall.web.api.schemas_market import Id, OrderOut


class BidIn(Request):
    collection_id: Id
    price: MoneyText
    valid_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class TradeOut(Response):
    trade_id: int
    kind: str = Field(description="What the taker did: take, accept, bid or list")
    collection_id: str
    serial: int
    seller_id: str
    buyer_id: str
    price: str
    fee: str
    royalty: str
    proceeds: str = Field(description="What the seller received: price - fee - royalty")
    order_id: int = Field(description="The resting order it filled")
    taker_order_id: int | None
    business_day: date
    flagged: bool
    flag_reason: str | None
    created_at: datetime

    @classmethod
    def of(cls, t: TradeView) -> TradeOut:
        return cls(
            trade_id=t.trade_id, kind=t.kind, collection_id=t.collection_id, serial=t.serial,
            seller_id=t.seller_id, buyer_id=t.buyer_id, price=format_money(t.price),
            fee=format_money(t.fee), royalty=format_money(t.royalty),
            proceeds=format_money(t.proceeds), order_id=t.order_id,
            taker_order_id=t.taker_order_id, business_day=t.business_day, flagged=t.flagged,
            flag_reason=t.flag_reason, created_at=t.created_at,
        )  # fmt: skip


class PlacedOut(Response):
    """An order placed (a bid or a listing) and the trades it made at once."""

    order: OrderOut
    trades: list[TradeOut]


class TradeList(Response):
    trades: list[TradeOut]


class TradeReportOut(Response):
    trades: list[TradeOut]
    count: int
    volume: str
    flagged_count: int
    flagged_volume: str

    @classmethod
    def of(cls, r: TradeReport) -> TradeReportOut:
        return cls(
            trades=[TradeOut.of(t) for t in r.trades],
            count=r.count,
            volume=format_money(r.volume),
            flagged_count=r.flagged_count,
            flagged_volume=format_money(r.flagged_volume),
        )


class DepositIn(Request):
    amount: MoneyText


class DepositOut(Response):
    deposit_id: str
    amount: str
    status: str
    redirect_url: str | None = Field(None, description="Send the payer here (the gateway)")
    created_at: datetime
    paid_at: datetime | None


class DepositList(Response):
    deposits: list[DepositOut]


class RoyaltyPayoutIn(Request):
    day: str | None = Field(
        None,
        max_length=10,
        description="The business day the payout closes, YYYY-MM-DD (default: today); "
        "royalties of trades up to it are paid",
    )


class IssuerRoyaltiesOut(Response):
    issuer_id: str = Field(description="The issuing merchant's id, or platform")
    earned: str = Field(description="Royalties of its trades, ever")
    paid: str = Field(description="What payouts moved into its cash")
    accrued: str = Field(description="Earned and not paid out yet")

    @classmethod
    def of(cls, i: IssuerRoyalties) -> IssuerRoyaltiesOut:
        return cls(
            issuer_id=i.issuer_id, earned=format_money(i.earned), paid=format_money(i.paid),
            accrued=format_money(i.accrued),
        )  # fmt: skip


class RoyaltyPayoutOut(Response):
    payout_id: int
    issuer_id: str
    business_day: date
    amount: str
    journal_id: int
    created_at: datetime

    @classmethod
    def of(cls, p: PayoutRow) -> RoyaltyPayoutOut:
        return cls(
            payout_id=p.payout_id, issuer_id=p.issuer_id, business_day=p.business_day,
            amount=format_money(p.amount), journal_id=p.journal_id, created_at=p.created_at,
        )  # fmt: skip


class RoyaltiesOut(Response):
    issuers: list[IssuerRoyaltiesOut]
    payouts: list[RoyaltyPayoutOut] = Field(description="One page of payouts, newest first")
    total: int = Field(description="Payouts in every page")
    limit: int
    offset: int

    @classmethod
    def of(cls, r: RoyaltyReport) -> RoyaltiesOut:
        return cls(
            issuers=[IssuerRoyaltiesOut.of(i) for i in r.issuers],
            payouts=[RoyaltyPayoutOut.of(p) for p in r.payouts],
            total=r.total,
            limit=r.limit,
            offset=r.offset,
        )


class RoyaltyPayoutsOut(Response):
    payouts: list[RoyaltyPayoutOut] = Field(description="The payouts made now (none: nothing due)")
