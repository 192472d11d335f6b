"""Transactions of the mall: the database, and the unit of work its use cases run in.

``Database.transaction()`` yields a connection inside a transaction; leaving the block normally
commits, any exception rolls back, so a refused request changes nothing.

``MallUnitOfWork`` is the SQL ``UnitOfWork`` (``services/unit_of_work.py``): the adapter's
transaction and repositories (``adapters/db/uow.py``) with the ledger of an order's money
(``order_ledger.SqlOrderLedger``), the webhook outbox (``events.SqlOutbox``), cash, the
wallet's trades and the settlement (``wallet_ledger``). ``Database.unit()`` opens one;
``MallUnitOfWork.joining(conn, book=…)`` runs inside a writer's transaction.

Its ``token_orders`` port (the token's side of a redemption's order) is the NFG's
(``services/nfg/redemption_orders.py``), which itself runs on this unit of work: the
composition root wires it with ``MallUnitOfWork.wire_token_orders``. Unwired, a redemption's
order that closes is refused rather than leaving its token behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import ClassVar

from sqlalchemy import Connection, Engine

from tokenmall.adapters.db.mall.payment_channels import SqlPaymentChannels
from tokenmall.adapters.db.mall.wechat_openids import SqlWechatOpenids
from tokenmall.adapters.db.market.store import SqlMarket
from tokenmall.adapters.db.nfg.anchors import SqlAnchors
from tokenmall.adapters.db.nfg.log import SqlLog
from tokenmall.adapters.db.nfg.redemptions import SqlRedemptions
from tokenmall.adapters.db.nfg.registry import SqlNfg
from tokenmall.adapters.db.storefront.repo import SqlStore
from tokenmall.adapters.db.uow import SqlUnitOfWork, Writes
from tokenmall.domain.mall.orders import Order
from tokenmall.services.ledger.book import TenantBook
from tokenmall.services.mall.cash import SqlCash
from tokenmall.services.mall.events import SqlOutbox
from tokenmall.services.mall.order_ledger import SqlOrderLedger, SqlOrderMoney
from tokenmall.services.mall.people_ledger import (
    SqlCommissionLedger,
    SqlReferralTree,
    SqlTenantLedger,
)
from tokenmall.services.mall.wallet_ledger import SqlSettlements, SqlTrades
from tokenmall.services.unit_of_work_orders import TokenOrders


def utc_now() -> datetime:
    return datetime.now(UTC)


class Unwired:
    """``token_orders`` before the composition root wired it: refuses, changing nothing."""

    def closed(self, order: Order, by: str, note: str | None, now: datetime) -> None:
        raise RuntimeError(
            f"order {order.order_id!r} redeems a token, but this process has not wired the "
            "NFG's token orders (tokenmall.bootstrap does)"
        )


def _unwired(unit: MallUnitOfWork) -> TokenOrders:
    return Unwired()


class MallUnitOfWork(SqlUnitOfWork):
    """The SQL unit of work with the mall's ledger and outbox."""

    _token_orders_of: ClassVar[Callable[[MallUnitOfWork], TokenOrders]] = _unwired

    ledger: SqlOrderLedger
    outbox: SqlOutbox
    cash: SqlCash
    trades: SqlTrades
    settlement: SqlSettlements
    log: SqlLog
    anchors: SqlAnchors
    nfg: SqlNfg
    redemptions: SqlRedemptions
    market: SqlMarket
    store: SqlStore
    channels: SqlPaymentChannels
    openids: SqlWechatOpenids
    token_orders: TokenOrders

    @classmethod
    def wire_token_orders(cls, factory: Callable[[MallUnitOfWork], TokenOrders]) -> None:
        """Every unit of work from now on gets ``factory(unit)`` as its ``token_orders``."""
        cls._token_orders_of = factory

    def __init__(
        self,
        engine: Engine | None,
        *,
        writes: Writes | None = None,
        book: TenantBook | None = None,
    ) -> None:
        super().__init__(engine, writes=writes)
        self._book = book

    @property
    def writer_book(self) -> TenantBook | None:
        """The book of the unit writer whose batch this unit runs in (None: a transaction of
        its own); a journal booked in the batch goes through it (``journal.run``)."""
        return self._book

    @classmethod
    def joining(
        cls, conn: Connection, *, writes: Writes | None = None, book: TenantBook | None = None
    ) -> MallUnitOfWork:
        unit = cls(None, writes=writes, book=book)
        unit._bind(conn)
        return unit

    def _bind(self, conn: Connection) -> None:
        super()._bind(conn)
        self.ledger = SqlOrderLedger(conn, self._book)
        self.outbox = SqlOutbox(conn)
        self.cash = SqlCash(conn)
        self.order_money = SqlOrderMoney(conn)
        self.tenant_ledger = SqlTenantLedger(conn)
        self.referral_tree = SqlReferralTree(conn)
        self.commission_ledger = SqlCommissionLedger(conn)
        self.trades = SqlTrades(conn)
        self.settlement = SqlSettlements(conn)
        self.log = SqlLog(conn)
        self.anchors = SqlAnchors(conn)
        self.nfg = SqlNfg(conn)
        self.redemptions = SqlRedemptions(conn)
        self.market = SqlMarket(conn)
        self.store = SqlStore(conn)
        self.channels = SqlPaymentChannels(conn)
        self.openids = SqlWechatOpenids(conn)
        self.token_orders = MallUnitOfWork._token_orders_of(self)

    def __enter__(self) -> MallUnitOfWork:
        super().__enter__()
        return self


class Database:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def unit(self) -> MallUnitOfWork:
        """A unit of work in a transaction of its own (enter it to begin)."""
        return MallUnitOfWork(self.engine)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A transaction that only reads (rolled back at the end; no write lock on SQLite)."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(tokenmall_readonly=True)
            with conn.begin() as txn:
                yield conn
                txn.rollback()

    @contextmanager
    def reading(self) -> Iterator[MallUnitOfWork]:
        """A unit of work that only reads (``read``'s transaction)."""
        with self.read() as conn:
            yield MallUnitOfWork.joining(conn)

    @contextmanager
    def reading_one(self) -> Iterator[MallUnitOfWork]:
        """A unit for one statement of reading: on PostgreSQL in autocommit (the statement is
        its own snapshot, so no BEGIN and ROLLBACK round trips); elsewhere ``reading``'s."""
        if self.engine.dialect.name != "postgresql":
            with self.reading() as uow:
                yield uow
            return
        with self.engine.connect() as conn:
            yield MallUnitOfWork.joining(conn.execution_options(isolation_level="AUTOCOMMIT"))

    @contextmanager
    def writing_one(self) -> Iterator[MallUnitOfWork]:
        """A unit for one statement that may write: on PostgreSQL in autocommit (the statement
        commits alone, no BEGIN and COMMIT round trips); elsewhere a transaction committed at
        the end."""
        if self.engine.dialect.name != "postgresql":
            with self.transaction() as conn:
                yield MallUnitOfWork.joining(conn)
            return
        with self.engine.connect() as conn:
            yield MallUnitOfWork.joining(conn.execution_options(isolation_level="AUTOCOMMIT"))

    def dispose(self) -> None:
        self.engine.dispose()
