"""The SQL unit of work: one transaction and the repositories a use case writes through.

``SqlUnitOfWork(engine)`` opens a connection and a transaction on entering; leaving the block
normally commits, an exception rolls back (``commit``/``rollback`` may also be called first).
``SqlUnitOfWork.joining(conn)`` joins a transaction somebody else owns (a writer's unit): it
commits nothing. The services add the ledger and the outbox (``services/mall/uow.py``).

Writes the hot paths send in one PostgreSQL pipeline go on the fast insert path
(``fast.insert_dicts``): they may be queued in a pipeline, or held back by ``fast.deferring``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, RootTransaction, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from tokenmall.adapters.db import fast
from tokenmall.adapters.db.holdings import SqlHoldings, SqlJournals
from tokenmall.adapters.db.mall import addresses as addresses_repo
from tokenmall.adapters.db.mall import carts as carts_repo
from tokenmall.adapters.db.mall import catalogue as catalogue_repo
from tokenmall.adapters.db.mall import idempotency as answers_repo
from tokenmall.adapters.db.mall import integration as repo
from tokenmall.adapters.db.mall import people as people_repo
from tokenmall.adapters.db.mall.kyc import SqlKyc
from tokenmall.adapters.db.mall.tables import idempotency as answers_table
from tokenmall.adapters.db.mall.tables import users as mall_users
from tokenmall.adapters.db.nfg.holder_rights import SqlHolderRights
from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.uow_accounts import SqlAccess, SqlCredentials, SqlOperators
from tokenmall.adapters.db.uow_orders import SqlNested, SqlOrders, SqlPayments, SqlRefunds
from tokenmall.adapters.db.uow_payouts import SqlPayoutBook
from tokenmall.adapters.db.uow_people import SqlCommissions, SqlTenants, SqlUserBook
from tokenmall.adapters.db.uow_webhooks import SqlWebhooks
from tokenmall.adapters.db.uow_withdrawals import SqlAuditTrail, SqlWithdrawals
from tokenmall.domain.economy.params import Params
from tokenmall.domain.mall.addresses import Address
from tokenmall.domain.mall.catalogue import Merchant, Product, Sku, StockMovement
from tokenmall.domain.mall.integration import ExternalUser, IntegrationOrder
from tokenmall.domain.mall.orders import CartLine
from tokenmall.domain.mall.people import User
from tokenmall.domain.mall.responses import StoredResponse

Writes = Callable[[], AbstractContextManager[Any]]


@dataclass(frozen=True, slots=True)
class NewUser:
    """A shop's user first seen now: its mall user and its external id (written together)."""

    user_id: str
    external_id: str
    display_name: str
    email: str
    password_hash: str
    invite_code: str
    inviter_id: str | None
    referrer_user_id: str | None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """The first answer to an order's event: its request's hash, status and JSON body."""

    request_hash: str
    status: int
    body: str


class SqlIntegration:
    """The integration repository: the shop's orders, their events' answers, its users."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def find_event(self, tenant_id: str, external_order_id: str, event: str) -> StoredEvent | None:
        found = repo.find_event(self.conn, tenant_id, external_order_id, event)
        return None if found is None else StoredEvent(*found)

    def add_event(
        self, order: IntegrationOrder, event: str, answer: StoredEvent, now: datetime
    ) -> None:
        row = {
            "tenant_id": order.tenant_id,
            "external_order_id": order.external_order_id,
            "event": event,
            "request_hash": answer.request_hash,
            "status_code": answer.status,
            "response_body": answer.body,
            "created_at": now,
        }
        fast.insert_dicts(self.conn, repo.integration_events, [row])

    def get_order(
        self, tenant_id: str, external_order_id: str, *, for_update: bool = False
    ) -> IntegrationOrder | None:
        return repo.get_order(self.conn, tenant_id, external_order_id, for_update=for_update)

    def add_order(self, order: IntegrationOrder) -> None:
        fast.insert_dicts(self.conn, repo.integration_orders, [_order_row(order)])

    def update_order(self, order: IntegrationOrder, fields: Sequence[str]) -> None:
        values = {name: getattr(order, name) for name in fields}
        repo.update_order(self.conn, order.tenant_id, order.external_order_id, **values)

    def external_users(
        self, tenant_id: str, external_ids: Sequence[str]
    ) -> dict[str, ExternalUser]:
        return repo.external_users_by_id(self.conn, tenant_id, list(external_ids))

    def external_ids(self, tenant_id: str, user_ids: Sequence[str]) -> dict[str, str]:
        table = repo.external_users
        rows = self.conn.execute(
            select(table.c.user_id, table.c.external_id).where(
                table.c.tenant_id == tenant_id, table.c.user_id.in_(list(user_ids))
            )
        )
        return {row[0]: row[1] for row in rows}

    def add_users(self, tenant_id: str, users: Sequence[NewUser], now: datetime) -> None:
        fast.insert_dicts(
            self.conn,
            mall_users,
            [
                {
                    "tenant_id": tenant_id,
                    "user_id": user.user_id,
                    "email": user.email,
                    "display_name": user.display_name,
                    "password_hash": user.password_hash,
                    "role": "consumer",
                    "kyc_status": "none",
                    "invite_code": user.invite_code,
                    "inviter_id": user.inviter_id,
                    "created_at": now,
                }
                for user in users
            ],
        )
        fast.insert_dicts(
            self.conn,
            repo.external_users,
            [
                {
                    "tenant_id": tenant_id,
                    "external_id": user.external_id,
                    "user_id": user.user_id,
                    "referrer_user_id": user.referrer_user_id,
                    "created_at": now,
                }
                for user in users
            ],
        )

    def bind_referrer(self, tenant_id: str, external_id: str, referrer_id: str) -> None:
        # A row held back earlier in this transaction (``fast.deferring``) is changed where
        # it waits; a committed one is updated.
        match = {"external_id": external_id, "referrer_user_id": None}
        values = {"referrer_user_id": referrer_id}
        if not fast.update_held(self.conn, repo.external_users, match, values):
            repo.set_referrer(self.conn, tenant_id, external_id, referrer_id)


def _order_row(order: IntegrationOrder) -> dict[str, Any]:
    """The order as a row of ``mall_integration_orders``."""
    return {
        "tenant_id": order.tenant_id,
        "external_order_id": order.external_order_id,
        "order_ref": order.order_ref,
        "user_id": order.user_id,
        "external_user_id": order.external_user_id,
        "amount_fen": order.amount_fen,
        "contribution_fen": order.contribution_fen,
        "state": order.state,
        "booked": int(order.booked),
        "refunded_fen": order.refunded_fen,
        "rewards": None if order.rewards is None else json.dumps(order.rewards),
        "paid_at": order.paid_at,
        "booked_at": order.booked_at,
        "completed_at": order.completed_at,
        "refunded_at": order.refunded_at,
    }


class SqlAddresses:
    """The address books (``adapters/db/mall/addresses.py``)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def lock_user(self, tenant_id: str, user_id: str) -> None:
        addresses_repo.lock_user(self.conn, tenant_id, user_id)

    def of_user(self, tenant_id: str, user_id: str) -> list[Address]:
        return addresses_repo.of_user(self.conn, tenant_id, user_id)

    def count_of_user(self, tenant_id: str, user_id: str) -> int:
        return addresses_repo.count_of_user(self.conn, tenant_id, user_id)

    def get(self, tenant_id: str, address_id: str) -> Address | None:
        return addresses_repo.get(self.conn, tenant_id, address_id)

    def default_of(self, tenant_id: str, user_id: str) -> Address | None:
        return addresses_repo.default_of(self.conn, tenant_id, user_id)

    def add(self, address: Address) -> None:
        addresses_repo.add(self.conn, address)

    def change(
        self, tenant_id: str, address_id: str, updated_at: datetime, values: dict[str, object]
    ) -> None:
        addresses_repo.change(self.conn, tenant_id, address_id, updated_at=updated_at, **values)

    def make_default(self, tenant_id: str, user_id: str, address_id: str, now: datetime) -> None:
        addresses_repo.make_default(self.conn, tenant_id, user_id, address_id, now)

    def remove(self, tenant_id: str, address_id: str) -> int:
        return addresses_repo.remove(self.conn, tenant_id, address_id)


class SqlCatalogue:
    """Merchants, products, SKUs and stock (``adapters/db/mall/catalogue.py``)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_merchant(self, merchant: Merchant) -> None:
        catalogue_repo.add_merchant(self.conn, merchant)

    def get_merchant(self, tenant_id: str, merchant_id: str) -> Merchant | None:
        return catalogue_repo.get_merchant(self.conn, tenant_id, merchant_id)

    def merchant_of_owner(self, tenant_id: str, user_id: str) -> Merchant | None:
        return catalogue_repo.merchant_of_owner(self.conn, tenant_id, user_id)

    def list_merchants(self, tenant_id: str, after: str | None, limit: int) -> list[Merchant]:
        return catalogue_repo.list_merchants(self.conn, tenant_id, after, limit)

    def add_product(self, product: Product) -> None:
        catalogue_repo.add_product(self.conn, product)

    def get_product(self, tenant_id: str, product_id: str) -> Product | None:
        return catalogue_repo.get_product(self.conn, tenant_id, product_id)

    def list_products(
        self,
        tenant_id: str,
        merchant_id: str | None,
        only_active: bool,
        after: str | None,
        limit: int,
    ) -> list[Product]:
        return catalogue_repo.list_products(
            self.conn, tenant_id, merchant_id, only_active, after, limit
        )

    def set_product_fields(self, tenant_id: str, product_id: str, values: dict[str, str]) -> None:
        catalogue_repo.set_product_fields(self.conn, tenant_id, product_id, **values)

    def add_sku(self, sku: Sku) -> None:
        catalogue_repo.add_sku(self.conn, sku)

    def get_sku(self, tenant_id: str, sku_id: str) -> Sku | None:
        return catalogue_repo.get_sku(self.conn, tenant_id, sku_id)

    def sku_with_product(self, tenant_id: str, sku_id: str) -> tuple[Sku, Product] | None:
        return catalogue_repo.sku_with_product(self.conn, tenant_id, sku_id)

    def list_skus(self, tenant_id: str, product_id: str) -> list[Sku]:
        return catalogue_repo.list_skus(self.conn, tenant_id, product_id)

    def skus_with_contribution(self, tenant_id: str) -> list[Sku]:
        return catalogue_repo.skus_with_contribution(self.conn, tenant_id)

    def set_sku_fields(self, tenant_id: str, sku_id: str, values: dict[str, object]) -> None:
        catalogue_repo.set_sku_fields(self.conn, tenant_id, sku_id, **values)

    def change_stock(self, tenant_id: str, sku_id: str, change: int) -> int | None:
        return catalogue_repo.change_stock(self.conn, tenant_id, sku_id, change)

    def add_movement(self, movement: StockMovement) -> None:
        catalogue_repo.add_movement(self.conn, movement)

    def list_movements(self, tenant_id: str, sku_id: str, limit: int) -> list[StockMovement]:
        return catalogue_repo.list_movements(self.conn, tenant_id, sku_id, limit)


class SqlCarts:
    """The consumers' cart lines (``adapters/db/mall/carts.py``)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def lines(self, tenant_id: str, user_id: str) -> list[CartLine]:
        return carts_repo.cart(self.conn, tenant_id, user_id)

    def quantity(self, tenant_id: str, user_id: str, sku_id: str) -> int | None:
        return carts_repo.cart_quantity(self.conn, tenant_id, user_id, sku_id)

    def set_line(
        self, tenant_id: str, user_id: str, sku_id: str, quantity: int, now: datetime
    ) -> None:
        carts_repo.set_cart_line(self.conn, tenant_id, user_id, sku_id, quantity, now)

    def remove_lines(self, tenant_id: str, user_id: str, sku_ids: Sequence[str]) -> int:
        return carts_repo.remove_cart_lines(self.conn, tenant_id, user_id, list(sku_ids))


class SqlPeople(SqlUserBook):
    """The tenant's users (``adapters/db/mall/people.py``), with ``SqlUserBook``'s writes."""

    def get_user(self, tenant_id: str, user_id: str) -> User | None:
        return people_repo.get_user(self.conn, tenant_id, user_id)


class SqlTenantParams:
    """The tenant's economy parameters, read now from its row."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def of(self, tenant_id: str) -> Params:
        params, _ = Store(self.conn.engine).load_params(self.conn, tenant_id)
        return params


class SqlAnswers:
    """The Idempotency-Key answers."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def find(self, tenant_id: str, scope: str, key: str) -> StoredResponse | None:
        return answers_repo.find(self.conn, tenant_id, scope, key)

    def add(
        self, tenant_id: str, scope: str, key: str, response: StoredResponse, now: datetime
    ) -> bool:
        try:
            with self.conn.begin_nested():
                answers_repo.add(self.conn, tenant_id, scope, key, response, now)
        except IntegrityError:
            return False
        return True


class SqlUnitOfWork:
    """One transaction with its repositories (see the module's docstring)."""

    conn: Connection
    integration: SqlIntegration
    addresses: SqlAddresses
    catalogue: SqlCatalogue
    carts: SqlCarts
    people: SqlPeople
    params: SqlTenantParams
    holdings: SqlHoldings
    journals: SqlJournals
    answers: SqlAnswers

    def __init__(self, engine: Engine | None, *, writes: Writes | None = None) -> None:
        self._engine = engine
        self._own: tuple[Connection, RootTransaction] | None = None
        self._writes = writes
        self._where: tuple[str, str, str, str, datetime] | None = None
        self._written: Inserted | None = None

    @classmethod
    def joining(cls, conn: Connection, *, writes: Writes | None = None) -> SqlUnitOfWork:
        """A unit inside ``conn``'s open transaction (its owner commits)."""
        unit = cls(None, writes=writes)
        unit._bind(conn)
        return unit

    def _bind(self, conn: Connection) -> None:
        self.conn = conn
        self.integration = SqlIntegration(conn)
        self.addresses = SqlAddresses(conn)
        self.catalogue = SqlCatalogue(conn)
        self.carts = SqlCarts(conn)
        self.people = SqlPeople(conn)
        self.params = SqlTenantParams(conn)
        self.holdings = SqlHoldings(conn)
        self.journals = SqlJournals(conn)
        self.answers = SqlAnswers(conn)
        self.withdrawals = SqlWithdrawals(conn)
        self.audit = SqlAuditTrail(conn)
        self.payouts = SqlPayoutBook(conn)
        self.orders = SqlOrders(conn)
        self.payments = SqlPayments(conn)
        self.refunds = SqlRefunds(conn)
        self.nested = SqlNested(conn)
        self.tenants = SqlTenants(conn)
        self.commissions = SqlCommissions(conn)
        self.kyc = SqlKyc(conn)
        self.holder_rights = SqlHolderRights(conn)
        self.credentials = SqlCredentials(conn)
        self.operators = SqlOperators(conn)
        self.webhooks = SqlWebhooks(conn)
        self.access = SqlAccess(conn)

    def __enter__(self) -> SqlUnitOfWork:
        if self._engine is not None:
            conn = self._engine.connect()
            self._own = (conn, conn.begin())
            self._bind(conn)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._own is None:
            return
        conn, txn = self._own
        self._own = None
        try:
            if txn.is_active:
                if kind is None:
                    txn.commit()
                else:
                    txn.rollback()
        finally:
            conn.close()

    def commit(self) -> None:
        if self._own is not None:
            self._own[1].commit()

    def rollback(self) -> None:
        if self._own is not None:
            self._own[1].rollback()

    def writing(self) -> AbstractContextManager[Any]:
        if self._writes is not None:
            return self._writes()
        return fast.pipeline(self.conn, self.conn.dialect.name == "postgresql")

    def answer_under(
        self, tenant_id: str, scope: str, key: str, request: str, now: datetime
    ) -> None:
        """Where ``answer`` stores the request's answer (its Idempotency-Key)."""
        self._where = (tenant_id, scope, key, request, now)

    def answer(self, status: int, body: str) -> None:
        if self._where is None or self._written is not None:
            return
        tenant_id, scope, key, request, now = self._where
        self._written = insert_answer(
            self.conn,
            tenant_id=tenant_id,
            scope=scope,
            key=key,
            response=StoredResponse(request, status, body),
            now=now,
        )

    def answered(self) -> bool:
        """Whether the stored answer is this unit's (False: a racing request's was first)."""
        return self._written is not None and self._written.ours()


def insert_answer(
    conn: Connection,
    *,
    tenant_id: str,
    scope: str,
    key: str,
    response: StoredResponse,
    now: datetime,
    strict: bool = False,
) -> Inserted:
    """Store the first answer in one statement (no savepoint): ``INSERT … ON CONFLICT DO
    NOTHING``. It may run in a PostgreSQL pipeline (on the driver's cursor, whose row count is
    known once the pipeline has synced); then ``Inserted.ours`` tells whether the row is
    ours. ``strict``: a plain INSERT, so a key taken meanwhile fails the statement (and the
    transaction or savepoint) with ``IntegrityError``."""
    sql, values = answer_statement(tenant_id, scope, key, response, now, strict=strict)
    if conn.dialect.name == "postgresql":
        cur = fast.cursor(conn)
        cur.execute(sql, values)
        return Inserted(cur)
    statement = sqlite_insert(answers_table).values(dict(zip(_COLUMNS, values, strict=True)))
    if not strict:
        statement = statement.on_conflict_do_nothing()
    result = conn.execute(statement)
    return Inserted(None, result.rowcount)


def answer_statement(
    tenant_id: str,
    scope: str,
    key: str,
    response: StoredResponse,
    now: datetime,
    *,
    strict: bool = False,
) -> fast.Statement:
    """``insert_answer``'s statement on PostgreSQL, for a caller that sends it itself."""
    values = (
        tenant_id,
        scope,
        key,
        response.request_hash,
        response.status_code,
        response.body,
        now,
    )
    return (_PG_INSERT_STRICT if strict else _PG_INSERT), values


_COLUMNS = (
    "tenant_id",
    "scope",
    "idempotency_key",
    "request_hash",
    "status_code",
    "response_body",
    "created_at",
)
_PG_INSERT_STRICT = (
    f"INSERT INTO {answers_table.name} ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join('%s' for _ in _COLUMNS)})"
)
_PG_INSERT = _PG_INSERT_STRICT + " ON CONFLICT DO NOTHING"


class Inserted:
    """The outcome of ``insert_answer``, read after its pipeline."""

    def __init__(self, cursor: Any, rowcount: int | None = None) -> None:
        self._cursor = cursor
        self._rowcount = rowcount

    def ours(self) -> bool:
        """Whether the row was inserted (False: another request with the key was first)."""
        count = self._rowcount
        if self._cursor is not None:
            count = self._cursor.rowcount
            self._cursor.close()
            self._cursor = None
            self._rowcount = count
        return count == 1
