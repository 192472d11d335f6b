"""Queries of the market (``tables``): the ``SqlMarket`` port of the unit of work.

Rows a use case changes are read ``FOR UPDATE`` in one order: the token (``nfg_tokens``, by the
registry) first, then its orders, then the tenant's settings row (which hands out order ids):
one lock order, no deadlocks. Rows come back as the service's plain records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, union, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from tokenmall.adapters.db.mall.rows import aware
from tokenmall.adapters.db.market.royalties import SqlMarketRoyalties
from tokenmall.adapters.db.market.tables import (
    market_collections,
    market_holders,
    market_holds,
    market_holidays,
    market_orders,
    market_settings,
    market_trades,
)
from tokenmall.adapters.db.market.trades import SqlMarketTrades
from tokenmall.adapters.db.nfg.tables import nfg_tokens


@dataclass(frozen=True, slots=True)
class MarketSettings:
    tenant_id: str
    profile: str
    kyc_required: bool


@dataclass(frozen=True, slots=True)
class CollectionSettings:
    """Rates in parts per million; None: the profile's default."""

    tenant_id: str
    collection_id: str
    fee_ppm: int = 0
    royalty_ppm: int = 0
    band_ppm: int | None = None
    hold_trading_days: int | None = None
    holder_limit: int | None = None
    gift_hold_days: int | None = None
    halted: bool = False


@dataclass(frozen=True, slots=True)
class OrderRow:
    tenant_id: str
    order_id: int
    kind: str
    user_id: str
    collection_id: str
    serial: int | None
    to_user_id: str | None
    price: int
    status: str
    reason: str | None
    expires_day: int | None
    created_at: datetime


def _order(row: Any) -> OrderRow:
    r = row._mapping
    return OrderRow(
        r["tenant_id"], int(r["order_id"]), r["kind"], r["user_id"], r["collection_id"],
        None if r["serial"] is None else int(r["serial"]), r["to_user_id"], int(r["price"]),
        r["status"], r["reason"], r["expires_day"], aware(r["created_at"]),
    )  # fmt: skip


class SqlMarket(SqlMarketTrades, SqlMarketRoyalties):
    # -- the tenant's profile

    def settings(self, tenant_id: str) -> MarketSettings | None:
        row = self.conn.execute(
            select(market_settings).where(market_settings.c.tenant_id == tenant_id)
        ).first()
        if row is None:
            return None
        r = row._mapping
        return MarketSettings(r["tenant_id"], r["profile"], bool(r["kyc_required"]))

    def put_settings(self, settings: MarketSettings, now: datetime) -> None:
        values = {"profile": settings.profile, "kyc_required": settings.kyc_required,
                  "updated_at": now}  # fmt: skip
        changed = self.conn.execute(
            update(market_settings)
            .where(market_settings.c.tenant_id == settings.tenant_id)
            .values(**values)
        ).rowcount
        if not changed:
            self.conn.execute(
                insert(market_settings).values(
                    tenant_id=settings.tenant_id, next_order_id=1, **values
                )
            )

    def next_order_id(self, tenant_id: str, now: datetime) -> int:
        """Hand out the tenant's next order id (locks the settings row until commit)."""
        if self.settings(tenant_id) is None:
            try:  # a racing first order may insert the row first: then use it
                with self.conn.begin_nested():
                    self.conn.execute(
                        insert(market_settings).values(
                            tenant_id=tenant_id, profile="open", kyc_required=False,
                            next_order_id=1, updated_at=now,
                        )
                    )  # fmt: skip
            except IntegrityError:
                pass
        self.conn.execute(
            update(market_settings)
            .where(market_settings.c.tenant_id == tenant_id)
            .values(next_order_id=market_settings.c.next_order_id + 1)
        )
        found = self.conn.execute(
            select(market_settings.c.next_order_id).where(market_settings.c.tenant_id == tenant_id)
        ).scalar_one()
        return int(found) - 1

    # -- collections

    def collection(self, tenant_id: str, collection_id: str) -> CollectionSettings | None:
        row = self.conn.execute(
            select(market_collections).where(
                market_collections.c.tenant_id == tenant_id,
                market_collections.c.collection_id == collection_id,
            )
        ).first()
        if row is None:
            return None
        r = row._mapping
        return CollectionSettings(
            tenant_id, collection_id, int(r["fee_ppm"]), int(r["royalty_ppm"]), r["band_ppm"],
            r["hold_trading_days"], r["holder_limit"], r["gift_hold_days"], bool(r["halted"]),
        )  # fmt: skip

    def put_collection(self, s: CollectionSettings, now: datetime) -> None:
        values = {
            "fee_ppm": s.fee_ppm, "royalty_ppm": s.royalty_ppm, "band_ppm": s.band_ppm,
            "hold_trading_days": s.hold_trading_days, "holder_limit": s.holder_limit,
            "gift_hold_days": s.gift_hold_days, "halted": s.halted, "updated_at": now,
        }  # fmt: skip
        changed = self.conn.execute(
            update(market_collections)
            .where(
                market_collections.c.tenant_id == s.tenant_id,
                market_collections.c.collection_id == s.collection_id,
            )
            .values(**values)
        ).rowcount
        if not changed:
            self.conn.execute(
                insert(market_collections).values(
                    tenant_id=s.tenant_id, collection_id=s.collection_id, **values
                )
            )

    # -- the calendar

    def holidays(self, tenant_id: str) -> list[tuple[date, bool]]:
        rows = self.conn.execute(
            select(market_holidays.c.day, market_holidays.c.workday)
            .where(market_holidays.c.tenant_id == tenant_id)
            .order_by(market_holidays.c.day)
        ).all()
        return [(r[0], bool(r[1])) for r in rows]

    def put_holiday(self, tenant_id: str, day: date, workday: bool) -> None:
        changed = self.conn.execute(
            update(market_holidays)
            .where(market_holidays.c.tenant_id == tenant_id, market_holidays.c.day == day)
            .values(workday=workday)
        ).rowcount
        if not changed:
            self.conn.execute(
                insert(market_holidays).values(tenant_id=tenant_id, day=day, workday=workday)
            )

    # -- orders

    def order(
        self, tenant_id: str, order_id: int, *, for_update: bool = False, skip_locked: bool = False
    ) -> OrderRow | None:
        """The order (None if there is none); ``for_update`` locks its row, and with
        ``skip_locked`` answers None instead of waiting when another transaction holds it."""
        query = select(market_orders).where(
            market_orders.c.tenant_id == tenant_id, market_orders.c.order_id == order_id
        )
        if for_update:
            query = query.with_for_update(skip_locked=skip_locked)
        row = self.conn.execute(query).first()
        return None if row is None else _order(row)

    def try_lock_counter(self, tenant_id: str) -> bool:
        """Lock the tenant's settings row (which hands out order ids) only if no other
        transaction holds it (``SKIP LOCKED``); False if it is taken or there is none yet."""
        query = (
            select(market_settings.c.tenant_id)
            .where(market_settings.c.tenant_id == tenant_id)
            .with_for_update(skip_locked=True)
        )
        return self.conn.execute(query).first() is not None

    def try_lock_token(self, tenant_id: str, collection_id: str, serial: int) -> bool:
        """Lock a token's row (the first lock of every action on it) only if no other
        transaction holds it (``SKIP LOCKED``; SQLite has one writer, so there it is free);
        False if it is taken or there is none."""
        query = (
            select(nfg_tokens.c.serial)
            .where(
                nfg_tokens.c.tenant_id == tenant_id,
                nfg_tokens.c.collection_id == collection_id,
                nfg_tokens.c.serial == serial,
            )
            .with_for_update(skip_locked=True)
        )
        return self.conn.execute(query).first() is not None

    def open_orders_of_token(
        self, tenant_id: str, collection_id: str, serial: int, *, for_update: bool = False
    ) -> list[OrderRow]:
        query = (
            select(market_orders)
            .where(
                market_orders.c.tenant_id == tenant_id,
                market_orders.c.collection_id == collection_id,
                market_orders.c.serial == serial,
                market_orders.c.status == "open",
            )
            .order_by(market_orders.c.order_id)
        )
        if for_update:
            query = query.with_for_update()
        return [_order(r) for r in self.conn.execute(query)]

    def best_open(
        self, tenant_id: str, collection_id: str, kind: str, live_on: int | None = None
    ) -> OrderRow | None:
        """The best open listing (lowest price) or bid (highest), the earliest on a tie; with
        ``live_on`` (a calendar day), only orders not due by then (``_live``)."""
        price = market_orders.c.price
        query = (
            select(market_orders)
            .where(
                market_orders.c.tenant_id == tenant_id,
                market_orders.c.collection_id == collection_id,
                market_orders.c.kind == kind,
                market_orders.c.status == "open",
                *_live(live_on),
            )
            .order_by(price.asc() if kind == "listing" else price.desc(), market_orders.c.order_id)
            .limit(1)
        )
        row = self.conn.execute(query).first()
        return None if row is None else _order(row)

    def orders_of_user(self, tenant_id: str, user_id: str, limit: int = 100) -> list[OrderRow]:
        query = (
            select(market_orders)
            .where(market_orders.c.tenant_id == tenant_id, market_orders.c.user_id == user_id)
            .order_by(market_orders.c.order_id.desc())
            .limit(limit)
        )
        return [_order(r) for r in self.conn.execute(query)]

    def offers_to_user(self, tenant_id: str, user_id: str, limit: int = 100) -> list[OrderRow]:
        """The open agreements (协议转让) naming ``user_id`` as their buyer, oldest first."""
        query = (
            select(market_orders)
            .where(
                market_orders.c.tenant_id == tenant_id,
                market_orders.c.to_user_id == user_id,
                market_orders.c.kind == "offer",
                market_orders.c.status == "open",
            )
            .order_by(market_orders.c.order_id)
            .limit(limit)
        )
        return [_order(r) for r in self.conn.execute(query)]

    def reserved_by_bids(self, tenant_id: str, user_id: str) -> int:
        """The cash the user's open bids hold (Σ price, fen)."""
        found = self.conn.execute(
            select(func.coalesce(func.sum(market_orders.c.price), 0)).where(
                market_orders.c.tenant_id == tenant_id,
                market_orders.c.user_id == user_id,
                market_orders.c.kind == "bid",
                market_orders.c.status == "open",
            )
        ).scalar_one()
        return int(found)

    def open_orders_of_collection(
        self, tenant_id: str, collection_id: str, live_on: int | None = None
    ) -> list[OrderRow]:
        query = (
            select(market_orders)
            .where(
                market_orders.c.tenant_id == tenant_id,
                market_orders.c.collection_id == collection_id,
                market_orders.c.status == "open",
                *_live(live_on),
            )
            .order_by(market_orders.c.order_id)
        )
        return [_order(r) for r in self.conn.execute(query)]

    def open_orders_of_tenant(self, tenant_id: str, *, for_update: bool = False) -> list[OrderRow]:
        query = (
            select(market_orders)
            .where(market_orders.c.tenant_id == tenant_id, market_orders.c.status == "open")
            .order_by(market_orders.c.order_id)
        )
        if for_update:
            query = query.with_for_update()
        return [_order(r) for r in self.conn.execute(query)]

    def add_order(self, order: OrderRow) -> None:
        self.conn.execute(
            insert(market_orders).values(
                tenant_id=order.tenant_id, order_id=order.order_id, kind=order.kind,
                user_id=order.user_id, collection_id=order.collection_id, serial=order.serial,
                to_user_id=order.to_user_id, price=order.price, status=order.status,
                reason=order.reason, expires_day=order.expires_day,
                created_at=order.created_at,
            )
        )  # fmt: skip

    def close_order(
        self, tenant_id: str, order_id: int, status: str, reason: str, now: datetime
    ) -> bool:
        """Close an open order; False if it was no longer open."""
        changed = self.conn.execute(
            update(market_orders)
            .where(
                market_orders.c.tenant_id == tenant_id,
                market_orders.c.order_id == order_id,
                market_orders.c.status == "open",
            )
            .values(status=status, reason=reason, closed_at=now)
        ).rowcount
        return bool(changed)

    def last_price_before(self, tenant_id: str, collection_id: str, day: date) -> int | None:
        """The price of the collection's last trade before ``day`` (the reference)."""
        found = self.conn.execute(
            select(market_trades.c.price)
            .where(
                market_trades.c.tenant_id == tenant_id,
                market_trades.c.collection_id == collection_id,
                market_trades.c.business_day < day,
            )
            .order_by(market_trades.c.created_at.desc(), market_trades.c.order_id.desc())
            .limit(1)
        ).scalar_one_or_none()
        return None if found is None else int(found)

    # -- holders and T+N marks

    def holders(self, tenant_id: str, collection_id: str) -> set[str]:
        """Every user who ever held a token of the collection: those the market recorded (as
        recipients and as the owners they replaced) and every token's owner now (a mint, a
        grant or a drop makes one without the market)."""
        recorded = select(market_holders.c.user_id).where(
            market_holders.c.tenant_id == tenant_id,
            market_holders.c.collection_id == collection_id,
        )
        owners = select(nfg_tokens.c.owner_id).where(
            nfg_tokens.c.tenant_id == tenant_id,
            nfg_tokens.c.collection_id == collection_id,
        )
        rows = self.conn.execute(union(recorded, owners)).all()
        return {r[0] for r in rows if r[0] is not None}

    def holders_now(self, tenant_id: str, collection_id: str) -> int:
        """How many users hold a (not redeemed or burned) token of the collection now."""
        found = self.conn.execute(
            select(func.count(func.distinct(nfg_tokens.c.owner_id))).where(
                nfg_tokens.c.tenant_id == tenant_id,
                nfg_tokens.c.collection_id == collection_id,
                nfg_tokens.c.state.not_in(("redeemed", "burned")),
            )
        ).scalar_one()
        return int(found)

    def add_holder(self, tenant_id: str, collection_id: str, user_id: str) -> None:
        """Record that ``user_id`` held a token of the collection (once; two transactions
        recording one user at once both succeed)."""
        self.add_holders(tenant_id, [(collection_id, user_id)])

    def add_holders(self, tenant_id: str, pairs: list[tuple[str, str]]) -> None:
        """``add_holder`` for each (collection, user), in one statement (sorted: one order)."""
        rows = [
            {"tenant_id": tenant_id, "collection_id": c, "user_id": u}
            for c, u in sorted(set(pairs))
        ]
        if not rows:
            return
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        self.conn.execute(dialect.insert(market_holders).values(rows).on_conflict_do_nothing())

    def marks(
        self, tenant_id: str, collection_id: str, user_id: str
    ) -> tuple[int | None, int | None]:
        row = self.conn.execute(
            select(market_holds.c.bought, market_holds.c.sold).where(
                market_holds.c.tenant_id == tenant_id,
                market_holds.c.collection_id == collection_id,
                market_holds.c.user_id == user_id,
            )
        ).first()
        return (None, None) if row is None else (row[0], row[1])

    def mark(self, tenant_id: str, collection_id: str, user_id: str, side: str, day: int) -> None:
        if side not in ("bought", "sold"):
            raise ValueError(side)
        where = (
            market_holds.c.tenant_id == tenant_id,
            market_holds.c.collection_id == collection_id,
            market_holds.c.user_id == user_id,
        )
        changed = self.conn.execute(update(market_holds).where(*where).values({side: day})).rowcount
        if not changed and not self._insert_once(
            insert(market_holds).values(
                tenant_id=tenant_id, collection_id=collection_id, user_id=user_id, **{side: day}
            )
        ):  # a racing trade of the same user inserted the row first: update it
            self.conn.execute(update(market_holds).where(*where).values({side: day}))

    def _insert_once(self, statement: Any) -> bool:
        """Insert a row another transaction may be inserting at once; False if it won."""
        try:
            with self.conn.begin_nested():
                self.conn.execute(statement)
        except IntegrityError:
            return False
        return True


def _live(day: int | None) -> tuple[Any, ...]:
    """Open orders still good on calendar day ``day`` (an order whose ``expires_day`` has come
    no longer trades, swept or not); None: every open order."""
    if day is None:
        return ()
    expires = market_orders.c.expires_day
    return (or_(expires.is_(None), expires > day),)
