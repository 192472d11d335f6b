"""Request and response models of the wallet, referral and withdrawal endpoints.

Requests refuse unknown fields and coerce nothing; money and points are decimal strings parsed
by ``domain.money`` in the services. Responses carry every figure as a decimal string.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from tokenmall.domain.mall.withdrawals import Settings, Withdrawal
from tokenmall.domain.money import format_money, format_points, format_price, format_rate
from tokenmall.services.mall import referrals, wallet
from tokenmall.web.api.schemas import MoneyText, Request, Response

PointsText = Annotated[
    str,
    Field(
        max_length=40,
        description='Points as a decimal string with at most 8 places, such as "1.5"',
        examples=["1.5"],
    ),
]
WithdrawalStatus = Literal["pending", "paying", "paid", "rejected", "failed"]


# --- wallet ---


class BackedBy(Response):
    """What backs the price, and what the dividend quota is: a promise paid only by the
    dividend pool and future sales (the tenant's solvency figures)."""

    pool: str
    circulating: str
    price: str
    dividend_pool: str
    quota_outstanding: str
    unfunded_quota: str
    daily_dividend_inflow: str
    days_to_pay_quota: str | None
    inflow_window_days: int
    statement: list[str]

    @classmethod
    def of(cls, b: wallet.BackedBy) -> BackedBy:
        public = b.health.to_public()
        return cls(
            pool=public["pool"],
            circulating=public["circulating"],
            price=public["price"],
            dividend_pool=public["dividend_pool"],
            quota_outstanding=public["quota_outstanding"],
            unfunded_quota=public["unfunded_quota"],
            daily_dividend_inflow=public["daily_dividend_inflow"],
            days_to_pay_quota=public["days_to_pay_quota"],
            inflow_window_days=b.window_days,
            statement=public["statement"],
        )


def _price(p: wallet.Price) -> dict[str, str]:
    return {
        "price": format_price(p.num, p.den),
        "price_display": format_price(p.num, p.den, 4),
        "price_fraction": f"{p.num}/{p.den}",
    }


class WalletOut(Response):
    user_id: str
    points: str
    price: str = Field(description="Yuan per point, 8 places (as every journal records it)")
    price_display: str = Field(description="The price to 4 places, for display")
    price_fraction: str = Field(description="The exact price: fen per 1e-8 point unit, num/den")
    points_value: str = Field(description="What the points fetch at a buyback now, after the fee")
    sell_fee_rate: str
    convert_fee_rate: str
    stable: str
    cash: str
    cash_withdrawing: str
    debt: str
    quota_total: str
    quota_used: str
    quota_left: str
    dividends_received: str
    spend: str
    shares: int
    level: str
    exited: bool
    backed_by: BackedBy
    forced_exit_gap: str | None = Field(
        default=None,
        description="Forced exit (rule 7) on: what is left before the points' value at the "
        "price reaches the remaining quota (0.00: bought back at the next settlement); null: "
        "the rule is off or there is nothing to exit from",
    )

    @classmethod
    def of(cls, w: wallet.WalletView) -> WalletOut:
        return cls(
            user_id=w.user_id,
            points=format_points(w.points),
            **_price(w.price),
            points_value=format_money(w.points_value),
            sell_fee_rate=format_rate(w.sell_fee_rate),
            convert_fee_rate=format_rate(w.convert_fee_rate),
            stable=format_money(w.stable),
            cash=format_money(w.cash),
            cash_withdrawing=format_money(w.cash_withdrawing),
            debt=format_money(w.debt),
            quota_total=format_money(w.quota_total),
            quota_used=format_money(w.quota_used),
            quota_left=format_money(w.quota_left),
            dividends_received=format_money(w.dividends_received),
            spend=format_money(w.spend),
            shares=w.shares,
            level=w.level,
            exited=w.exited,
            backed_by=BackedBy.of(w.backed_by),
            forced_exit_gap=None if w.forced_exit_gap is None else format_money(w.forced_exit_gap),
        )


class DividendDay(Response):
    business_date: str
    amount: str

    @classmethod
    def of(cls, d: wallet.DividendDay) -> DividendDay:
        return cls(business_date=d.business_date.isoformat(), amount=format_money(d.amount))


class DividendsOut(Response):
    items: list[DividendDay]


class PointsIn(Request):
    points: PointsText


class TradeOut(Response):
    """A sell (cash) or a conversion (stable points), or its preview."""

    points: str
    price: str
    price_display: str
    price_fraction: str
    value_at_price: str
    fee: str
    fee_rate: str
    receive: str
    receive_as: Literal["cash", "stable"]
    journal_id: int | None = None

    @classmethod
    def of(cls, t: wallet.Trade) -> TradeOut:
        return cls(
            points=format_points(t.points),
            **_price(t.price),
            value_at_price=format_money(t.value_at_price),
            fee=format_money(t.fee),
            fee_rate=format_rate(t.fee_rate),
            receive=format_money(t.receive),
            receive_as=t.receive_as,
            journal_id=t.journal_id,
        )


class RedeemIn(Request):
    amount: MoneyText


class RedeemOut(Response):
    merchant_id: str
    amount: str
    points: str
    price: str
    journal_id: int

    @classmethod
    def of(cls, r: wallet.Redemption) -> RedeemOut:
        return cls(
            merchant_id=r.merchant_id,
            amount=format_money(r.amount),
            points=format_points(r.points),
            price=format_points(r.price_e8),
            journal_id=r.journal_id,
        )


class MerchantWalletOut(Response):
    merchant_id: str
    stable: str
    points: str
    price: str
    price_display: str
    price_fraction: str

    @classmethod
    def of(cls, m: wallet.MerchantWallet) -> MerchantWalletOut:
        return cls(
            merchant_id=m.merchant_id,
            stable=format_money(m.stable),
            points=format_points(m.points),
            **_price(m.price),
        )


class LeaderboardEntry(Response):
    rank: int
    name: str
    points: str
    level: str
    you: bool

    @classmethod
    def of(cls, r: wallet.Rank) -> LeaderboardEntry:
        return cls(
            rank=r.rank, name=r.name, points=format_points(r.points), level=r.level, you=r.you
        )


class LeaderboardOut(Response):
    items: list[LeaderboardEntry]


class PriceClose(Response):
    date: str
    close: str

    @classmethod
    def of(cls, c: wallet.Close) -> PriceClose:
        return cls(date=c.day.isoformat(), close=format_points(c.price_e8))


class CurrentPrice(Response):
    price: str
    price_display: str
    price_fraction: str


class PriceHistoryOut(Response):
    days: int
    series: list[PriceClose]
    current: CurrentPrice

    @classmethod
    def of(cls, h: wallet.PriceHistory) -> PriceHistoryOut:
        return cls(
            days=h.days,
            series=[PriceClose.of(c) for c in h.series],
            current=CurrentPrice(**_price(h.current)),
        )


# --- referrals ---


class PersonOut(Response):
    user_id: str
    display_name: str


class InviteeOut(Response):
    display_name: str
    joined_at: datetime


class LevelPoints(Response):
    level: int
    points: str


class ReferralPoints(Response):
    total: str
    by_level: list[LevelPoints]


class CommissionOut(Response):
    order_ref: str
    level: int
    amount: str
    status: Literal["frozen", "released", "clawed_back"]
    debt: str | None
    created_at: datetime


class CommissionSummary(Response):
    frozen: str
    released: str
    clawed_back: str
    clawed_from_cash: str
    clawed_into_debt: str
    recent: list[CommissionOut]


class ReferralsOut(Response):
    user_id: str
    invite_code: str
    invite_path: str
    invite_url: str
    inviter: PersonOut | None
    bound_in_ledger: bool
    invitees: list[InviteeOut]
    referral_points: ReferralPoints
    commissions: CommissionSummary
    debt: str

    @classmethod
    def of(cls, found: referrals.Referrals) -> ReferralsOut:
        totals = found.commissions
        return cls(
            user_id=found.user_id,
            invite_code=found.invite_code,
            invite_path=found.invite_path,
            invite_url=found.invite_url,
            inviter=None
            if found.inviter is None
            else PersonOut(user_id=found.inviter.user_id, display_name=found.inviter.display_name),
            bound_in_ledger=found.bound_in_ledger,
            invitees=[
                InviteeOut(display_name=i.display_name, joined_at=i.joined_at)
                for i in found.invitees
            ],
            referral_points=ReferralPoints(
                total=format_points(found.points_total),
                by_level=[
                    LevelPoints(level=level, points=format_points(units))
                    for level, units in found.points_by_level
                ],
            ),
            commissions=CommissionSummary(
                frozen=format_money(totals.frozen),
                released=format_money(totals.released),
                clawed_back=format_money(totals.clawed_back),
                clawed_from_cash=format_money(totals.from_cash),
                clawed_into_debt=format_money(totals.debt),
                recent=[
                    CommissionOut(
                        order_ref=r.order_ref,
                        level=r.level,
                        amount=format_money(r.amount_fen),
                        status=r.status.value,
                        debt=None if r.debt_fen is None else format_money(r.debt_fen),
                        created_at=r.created_at,
                    )
                    for r in found.recent
                ],
            ),
            debt=format_money(found.debt_fen),
        )


# --- withdrawals ---


class WithdrawalIn(Request):
    amount: MoneyText
    merchant_id: str | None = Field(
        default=None,
        max_length=40,
        description="Withdraw your store's cash (its paid royalties, 版税收入) instead of your own",
    )


class RejectIn(Request):
    reason: Annotated[str, Field(max_length=500)]


class WithdrawalOut(Response):
    withdrawal_id: str
    user_id: str
    amount: str
    debt_repaid: str
    status: WithdrawalStatus
    approvals_required: int
    approved_by: list[str]
    decided_by: str | None
    reason: str | None
    created_at: datetime
    decided_at: datetime | None
    merchant_id: str | None = Field(description="The store whose cash it is; null: the user's")

    @classmethod
    def of(cls, w: Withdrawal) -> WithdrawalOut:
        return cls(
            withdrawal_id=w.withdrawal_id,
            user_id=w.user_id,
            amount=format_money(w.amount_fen),
            debt_repaid=format_money(w.debt_repaid_fen),
            status=w.status,  # type: ignore[arg-type]
            approvals_required=w.approvals_required,
            approved_by=list(w.approved_by),
            decided_by=w.decided_by,
            reason=w.reason,
            created_at=w.created_at,
            decided_at=w.decided_at,
            merchant_id=w.merchant_id,
        )


class WithdrawalPage(Response):
    items: list[WithdrawalOut]
    next_after: str | None


class WithdrawalSettingsIn(Request):
    requires_kyc: bool | None = None
    min_amount: MoneyText | None = None
    two_approver_threshold: MoneyText | None = None


class WithdrawalSettingsOut(Response):
    requires_kyc: bool
    min_amount: str
    two_approver_threshold: str
    updated_by: str | None
    updated_at: datetime | None

    @classmethod
    def of(cls, s: Settings) -> WithdrawalSettingsOut:
        return cls(
            requires_kyc=s.requires_kyc,
            min_amount=format_money(s.min_amount_fen),
            two_approver_threshold=format_money(s.two_approver_threshold_fen),
            updated_by=s.updated_by,
            updated_at=s.updated_at,
        )
