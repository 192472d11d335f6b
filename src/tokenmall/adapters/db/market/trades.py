"""Queries of the market's trades and deposits (``tables``): the base of ``SqlMarket``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update

from tokenmall.adapters.db.mall.rows import aware
from tokenmall.adapters.db.market.tables import market_deposits, market_trades


@dataclass(frozen=True, slots=True)
class TradeRow:
    tenant_id: str
    trade_id: int
    order_id: int  # the resting order
    taker_order_id: int | None
    kind: str  # take, accept, bid, list
    collection_id: str
    serial: int
    seller_id: str
    buyer_id: str
    issuer_id: str
    price: int
    fee: int
    royalty: int
    business_day: date
    trading_day: int
    journal_id: int | None
    flagged: bool
    flag_reason: str | None
    created_at: datetime

    @property
    def proceeds(self) -> int:
        return self.price - self.fee - self.royalty


@dataclass(frozen=True, slots=True)
class DepositRow:
    tenant_id: str
    deposit_id: str
    user_id: str
    amount: int
    status: str  # pending, paid
    payer_account: str | None
    journal_id: int | None
    created_at: datetime
    paid_at: datetime | None


_TRADE_FIELDS = tuple(TradeRow.__dataclass_fields__)
_DEPOSIT_FIELDS = tuple(DepositRow.__dataclass_fields__)


def _trade(row: Any) -> TradeRow:
    r = dict(row._mapping)
    r["created_at"] = aware(r["created_at"])
    r["flagged"] = bool(r["flagged"])
    return TradeRow(**{k: r[k] for k in _TRADE_FIELDS})


def _deposit(row: Any) -> DepositRow:
    r = dict(row._mapping)
    r["created_at"] = aware(r["created_at"])
    r["paid_at"] = None if r["paid_at"] is None else aware(r["paid_at"])
    return DepositRow(**{k: r[k] for k in _DEPOSIT_FIELDS})


class SqlMarketTrades:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- trades

    def add_trade(self, trade: TradeRow) -> None:
        values = {k: getattr(trade, k) for k in _TRADE_FIELDS}
        self.conn.execute(insert(market_trades).values(**values))

    def trades(
        self, tenant_id: str, collection_id: str | None = None, limit: int | None = 500
    ) -> list[TradeRow]:
        """Trades oldest first (all of them with ``limit`` None)."""
        query = select(market_trades).where(market_trades.c.tenant_id == tenant_id)
        if collection_id is not None:
            query = query.where(market_trades.c.collection_id == collection_id)
        query = query.order_by(market_trades.c.created_at, market_trades.c.trade_id)
        if limit is not None:
            query = query.limit(limit)
        return [_trade(r) for r in self.conn.execute(query)]

    def trade(self, tenant_id: str, trade_id: int) -> TradeRow | None:
        row = self.conn.execute(
            select(market_trades).where(
                market_trades.c.tenant_id == tenant_id, market_trades.c.trade_id == trade_id
            )
        ).first()
        return None if row is None else _trade(row)

    def trades_of_user(self, tenant_id: str, user_id: str, limit: int = 200) -> list[TradeRow]:
        """The user's trades (bought or sold), newest first."""
        query = (
            select(market_trades)
            .where(
                market_trades.c.tenant_id == tenant_id,
                or_(market_trades.c.buyer_id == user_id, market_trades.c.seller_id == user_id),
            )
            .order_by(market_trades.c.trade_id.desc())
            .limit(limit)
        )
        return [_trade(r) for r in self.conn.execute(query)]

    def trades_for_operator(
        self,
        tenant_id: str,
        *,
        flagged: bool | None = None,
        limit: int | None = 1000,
        collection_id: str | None = None,
        before: int | None = None,
    ) -> list[TradeRow]:
        """Trades newest first; ``flagged`` True or False to keep only those, ``collection_id``
        one collection's, ``before`` those older than that trade id (the next page)."""
        query = select(market_trades).where(market_trades.c.tenant_id == tenant_id)
        if flagged is not None:
            query = query.where(market_trades.c.flagged == flagged)
        if collection_id is not None:
            query = query.where(market_trades.c.collection_id == collection_id)
        if before is not None:
            query = query.where(market_trades.c.trade_id < before)
        query = query.order_by(market_trades.c.trade_id.desc())
        if limit is not None:
            query = query.limit(limit)
        return [_trade(r) for r in self.conn.execute(query)]

    def trade_totals(
        self, tenant_id: str, *, flagged: bool | None = None, collection_id: str | None = None
    ) -> tuple[int, int]:
        """(count, Σ price) of the tenant's trades (only the flagged ones, or not, if asked;
        one collection's if named)."""
        query = select(func.count(), func.coalesce(func.sum(market_trades.c.price), 0)).where(
            market_trades.c.tenant_id == tenant_id
        )
        if flagged is not None:
            query = query.where(market_trades.c.flagged == flagged)
        if collection_id is not None:
            query = query.where(market_trades.c.collection_id == collection_id)
        count, total = self.conn.execute(query).one()
        return int(count), int(total)

    # -- deposits

    def add_deposit(self, deposit: DepositRow) -> None:
        values = {k: getattr(deposit, k) for k in _DEPOSIT_FIELDS}
        self.conn.execute(insert(market_deposits).values(**values))

    def deposit(
        self, tenant_id: str, deposit_id: str, *, for_update: bool = False
    ) -> DepositRow | None:
        query = select(market_deposits).where(
            market_deposits.c.tenant_id == tenant_id, market_deposits.c.deposit_id == deposit_id
        )
        if for_update:
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        return None if row is None else _deposit(row)

    def deposits_of_user(self, tenant_id: str, user_id: str, limit: int = 100) -> list[DepositRow]:
        query = (
            select(market_deposits)
            .where(market_deposits.c.tenant_id == tenant_id, market_deposits.c.user_id == user_id)
            .order_by(market_deposits.c.created_at.desc())
            .limit(limit)
        )
        return [_deposit(r) for r in self.conn.execute(query)]

    def mark_deposit_paid(
        self, tenant_id: str, deposit_id: str, journal_id: int | None, payer: str | None,
        now: datetime,
    ) -> bool:  # fmt: skip
        changed = self.conn.execute(
            update(market_deposits)
            .where(
                market_deposits.c.tenant_id == tenant_id,
                market_deposits.c.deposit_id == deposit_id,
                market_deposits.c.status == "pending",
            )
            .values(status="paid", journal_id=journal_id, payer_account=payer, paid_at=now)
        ).rowcount
        return bool(changed)

    def payer_accounts(self, tenant_id: str, user_id: str) -> set[str]:
        """The paying accounts the gateway reported for the user's paid deposits."""
        rows = self.conn.execute(
            select(market_deposits.c.payer_account).where(
                market_deposits.c.tenant_id == tenant_id,
                market_deposits.c.user_id == user_id,
                market_deposits.c.payer_account.is_not(None),
            )
        ).all()
        return {r[0] for r in rows}
