"""What the ledger holds and recorded, read for the wallet: holders, the price, the dividends
paid on settled days, display names, and the price-bearing journals."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime

from sqlalchemy import Connection, func, select

from tokenmall.adapters.db.mall.tables import merchants as mall_merchants
from tokenmall.adapters.db.mall.tables import users as mall_users
from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.tables import holders, journals, postings, settled_days
from tokenmall.domain.economy.state import Holder
from tokenmall.domain.ledger.accounts import AccountKind
from tokenmall.domain.ledger.batch import HOLDER_FIELDS, holder_from_row
from tokenmall.domain.ledger.codes import JournalCode
from tokenmall.domain.mall.statement import ACCOUNT_OF, HOLDING_OF, Holding, Movement
from tokenmall.domain.money import parse_points

PRICED_CODES = (
    JournalCode.PURCHASE.value,
    JournalCode.BUYBACK.value,
    JournalCode.CONVERT.value,
    JournalCode.REDEEM_STABLE.value,
)


class SqlHoldings:
    """What the ledger holds for each holder (user or merchant), and the price, read."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def price(self, tenant_id: str) -> tuple[int, int]:
        state, _ = Store(self.conn.engine).load_state(self.conn, tenant_id)
        return state.price()

    def holder(self, tenant_id: str, name: str) -> Holder:
        found = Store(self.conn.engine).load_holders(self.conn, tenant_id, [name])
        return found[0] if found else Holder(name)

    def dividend_days(self, tenant_id: str, user_id: str, days: int) -> list[tuple[date, int]]:
        """The last ``days`` settled days, newest first, each with the fen of dividend the user
        was paid: a primary-key range per day, never a scan of the ledger."""
        rows = self.conn.execute(
            select(settled_days.c.business_date, settled_days.c.dividend_journal_id)
            .where(settled_days.c.tenant_id == tenant_id)
            .order_by(settled_days.c.business_date.desc())
            .limit(days)
        ).all()
        if not rows:
            return []
        paid: dict[int, int] = {}
        query = select(postings.c.journal_id, postings.c.amount).where(
            postings.c.tenant_id == tenant_id,
            postings.c.journal_id.in_([r.dividend_journal_id for r in rows]),
            postings.c.account == AccountKind.USER_CASH.value,
            postings.c.holder == user_id,
        )
        for journal_id, amount in self.conn.execute(query):
            paid[journal_id] = paid.get(journal_id, 0) + int(amount)
        return [(r.business_date, paid.get(r.dividend_journal_id, 0)) for r in rows]

    def movements(
        self,
        tenant_id: str,
        holder: str,
        *,
        before: int | None,
        limit: int,
        holding: Holding | None = None,
    ) -> list[Movement]:
        """The holder's lines, newest journal first, journals before ``before`` (all if
        None): the postings' index by holder (migration 0025), one row per journal and
        account (a journal's lines on one account summed)."""
        accounts = [ACCOUNT_OF[holding]] if holding is not None else list(HOLDING_OF)
        amount = func.sum(postings.c.amount).label("amount")
        query = (
            select(
                postings.c.journal_id,
                postings.c.account,
                amount,
                journals.c.code,
                journals.c.created_at,
                journals.c.business_date,
            )
            .join(
                journals,
                (journals.c.tenant_id == postings.c.tenant_id)
                & (journals.c.journal_id == postings.c.journal_id),
            )
            .where(
                postings.c.tenant_id == tenant_id,
                postings.c.holder == holder,
                postings.c.account.in_(accounts),
            )
            .group_by(
                postings.c.journal_id,
                postings.c.account,
                journals.c.code,
                journals.c.created_at,
                journals.c.business_date,
            )
            .having(func.sum(postings.c.amount) != 0)
            .order_by(postings.c.journal_id.desc(), postings.c.account)
            .limit(limit)
        )
        if before is not None:
            query = query.where(postings.c.journal_id < before)
        return [
            Movement(
                journal_id=int(r.journal_id),
                code=str(r.code),
                at=r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC),
                business_date=r.business_date,
                holding=HOLDING_OF[r.account],
                amount=int(r.amount),
            )
            for r in self.conn.execute(query)
        ]

    def top_holders(self, tenant_id: str, limit: int) -> list[Holder]:
        """The holders with points, the most first (then who got there first, then name)."""
        rows = self.conn.execute(
            select(holders)
            .where(holders.c.tenant_id == tenant_id, holders.c.points > 0)
            .order_by(holders.c.points.desc(), holders.c.points_seq, holders.c.name)
            .limit(limit)
        ).all()
        return [holder_from_row(tuple(getattr(r, f) for f in HOLDER_FIELDS)) for r in rows]

    def display_names(self, tenant_id: str, names: Sequence[str]) -> dict[str, str]:
        """Users' display names and merchants' store names, by holder name."""
        if not names:
            return {}
        out: dict[str, str] = {}
        for table, key, shown in (
            (mall_users, mall_users.c.user_id, mall_users.c.display_name),
            (mall_merchants, mall_merchants.c.merchant_id, mall_merchants.c.name),
        ):
            query = select(key, shown).where(table.c.tenant_id == tenant_id, key.in_(names))
            out.update({name: text for name, text in self.conn.execute(query)})
        return out


class SqlJournals:
    """The tenant's journals by id (dense, in commit order): when each was made, and the price
    the last price-bearing one recorded."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def last_id(self, tenant_id: str) -> int:
        _, last = Store(self.conn.engine).load_state(self.conn, tenant_id)
        return last

    def created_at(self, tenant_id: str, journal_id: int) -> datetime:
        found: datetime = self.conn.execute(
            select(journals.c.created_at).where(
                journals.c.tenant_id == tenant_id, journals.c.journal_id == journal_id
            )
        ).scalar_one()
        return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)

    def close(self, tenant_id: str, upto: int) -> int | None:
        """The price (1e-8 yuan per point) recorded by the last purchase, buyback, conversion
        or redemption at or before ``upto``: one backward index scan."""
        row = self.conn.execute(
            select(journals.c.result)
            .where(
                journals.c.tenant_id == tenant_id,
                journals.c.journal_id <= upto,
                journals.c.code.in_(PRICED_CODES),
            )
            .order_by(journals.c.journal_id.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        price = json.loads(row.result).get("price")
        return None if price is None else parse_points(str(price), "price", allow_zero=True)
