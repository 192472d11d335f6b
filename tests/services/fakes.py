"""An in-memory ``UnitOfWork``: the services tier runs the use cases with no database.

Each port keeps its rows in plain dicts and lists. Entering the unit takes a copy of every
port's state; leaving it by an exception (or ``rollback``) puts the copy back, so a refused
use case changes nothing here either. The ledger is a recorder: it answers each order step
with deterministic integers (``grant_on`` decides whether ``paid`` books the rewards) and keeps
the commands it was asked to write, as the journal rows a real ledger would add. Cash is plain
integers of fen per member (cash, debt, held, paid out), moved by the withdrawals' commands.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from types import TracebackType
from typing import Any

from fakes_accounts import FakeAccess, FakeCredentials, FakeOperators
from fakes_orders import (
    FakeHolderRights,
    FakeNested,
    FakeOrderMoney,
    FakeOrders,
    FakePayments,
    FakeRefunds,
    FakeTokenOrders,
)
from fakes_payouts import FakePayoutBook
from fakes_people import (
    FakeCommissionLedger,
    FakeCommissions,
    FakeKyc,
    FakeReferralTree,
    FakeTenantLedger,
    FakeTenants,
    FakeUserBook,
)
from fakes_wallet import FakeSettlements, FakeTrades
from fakes_webhooks import FakeWebhooks
from fakes_withdrawals import FakeAuditTrail, FakeCash, FakeWithdrawals

from tokenmall.adapters.db.uow import NewUser, StoredEvent
from tokenmall.domain.economy.params import Params
from tokenmall.domain.economy.state import Holder
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.ledger.results import Granted, Purchased
from tokenmall.domain.mall.addresses import Address
from tokenmall.domain.mall.catalogue import Merchant, Product, ProductStatus, Sku, StockMovement
from tokenmall.domain.mall.integration import ExternalUser, IntegrationOrder
from tokenmall.domain.mall.orders import CartLine
from tokenmall.domain.mall.people import User
from tokenmall.domain.mall.responses import StoredResponse
from tokenmall.domain.mall.statement import Holding, Movement
from tokenmall.services.ledger.execute import Prefound
from tokenmall.services.unit_of_work import OrderPaid

POINTS_PER_FEN = 1_000_000  # the fake's price: 0.01 point per fen (units of 1e-8)


@dataclass
class FakeIntegration:
    orders: dict[tuple[str, str], IntegrationOrder] = field(default_factory=dict)
    events: dict[tuple[str, str, str], StoredEvent] = field(default_factory=dict)
    users: dict[tuple[str, str], ExternalUser] = field(default_factory=dict)
    mall_users: dict[tuple[str, str], NewUser] = field(default_factory=dict)

    def find_event(self, tenant_id: str, external_order_id: str, event: str) -> StoredEvent | None:
        return self.events.get((tenant_id, external_order_id, event))

    def add_event(
        self, order: IntegrationOrder, event: str, answer: StoredEvent, now: datetime
    ) -> None:
        where = (order.tenant_id, order.external_order_id, event)
        assert where not in self.events, "an event's answer is stored once"
        self.events[where] = answer

    def get_order(
        self, tenant_id: str, external_order_id: str, *, for_update: bool = False
    ) -> IntegrationOrder | None:
        return self.orders.get((tenant_id, external_order_id))

    def add_order(self, order: IntegrationOrder) -> None:
        where = (order.tenant_id, order.external_order_id)
        assert where not in self.orders, "an order is added once"
        self.orders[where] = order

    def update_order(self, order: IntegrationOrder, fields: Sequence[str]) -> None:
        where = (order.tenant_id, order.external_order_id)
        values = {name: getattr(order, name) for name in fields}
        self.orders[where] = replace(self.orders[where], **values)

    def external_users(
        self, tenant_id: str, external_ids: Sequence[str]
    ) -> dict[str, ExternalUser]:
        found = (self.users.get((tenant_id, e)) for e in external_ids)
        return {user.external_id: user for user in found if user is not None}

    def external_ids(self, tenant_id: str, user_ids: Sequence[str]) -> dict[str, str]:
        wanted = set(user_ids)
        return {
            u.user_id: u.external_id
            for (tenant, _), u in self.users.items()
            if tenant == tenant_id and u.user_id in wanted
        }

    def add_users(self, tenant_id: str, users: Sequence[NewUser], now: datetime) -> None:
        for user in users:
            self.mall_users[(tenant_id, user.user_id)] = user
            self.users[(tenant_id, user.external_id)] = ExternalUser(
                user.external_id, user.user_id, user.referrer_user_id
            )

    def bind_referrer(self, tenant_id: str, external_id: str, referrer_id: str) -> None:
        user = self.users[(tenant_id, external_id)]
        if user.referrer_user_id is None:
            self.users[(tenant_id, external_id)] = ExternalUser(
                external_id, user.user_id, referrer_id
            )


@dataclass
class FakeAddresses:
    """The address books: addresses by (tenant, address id); ``locks`` counts ``lock_user``."""

    rows: dict[tuple[str, str], Address] = field(default_factory=dict)
    locks: int = 0

    def lock_user(self, tenant_id: str, user_id: str) -> None:
        self.locks += 1

    def of_user(self, tenant_id: str, user_id: str) -> list[Address]:
        mine = [a for a in self.rows.values() if (a.tenant_id, a.user_id) == (tenant_id, user_id)]
        mine.sort(key=lambda a: (a.created_at, a.address_id), reverse=True)
        mine.sort(key=lambda a: not a.is_default)
        return mine

    def count_of_user(self, tenant_id: str, user_id: str) -> int:
        return len(self.of_user(tenant_id, user_id))

    def get(self, tenant_id: str, address_id: str) -> Address | None:
        return self.rows.get((tenant_id, address_id))

    def default_of(self, tenant_id: str, user_id: str) -> Address | None:
        found = [a for a in self.of_user(tenant_id, user_id) if a.is_default]
        return min(found, key=lambda a: a.address_id) if found else None

    def add(self, address: Address) -> None:
        where = (address.tenant_id, address.address_id)
        assert where not in self.rows, "an address is added once"
        self.rows[where] = address

    def change(
        self, tenant_id: str, address_id: str, updated_at: datetime, values: dict[str, object]
    ) -> None:
        where = (tenant_id, address_id)
        self.rows[where] = replace(self.rows[where], updated_at=updated_at, **values)  # type: ignore[arg-type]

    def make_default(self, tenant_id: str, user_id: str, address_id: str, now: datetime) -> None:
        for where, a in list(self.rows.items()):
            if (a.tenant_id, a.user_id) != (tenant_id, user_id):
                continue
            if a.is_default and a.address_id != address_id:
                self.rows[where] = replace(a, is_default=False, updated_at=now)
            elif not a.is_default and a.address_id == address_id:
                self.rows[where] = replace(a, is_default=True, updated_at=now)

    def remove(self, tenant_id: str, address_id: str) -> int:
        return 0 if self.rows.pop((tenant_id, address_id), None) is None else 1


@dataclass
class FakeCatalogue:
    """Merchants, products and SKUs by (tenant, id); the stock movements in order."""

    merchants: dict[tuple[str, str], Merchant] = field(default_factory=dict)
    products: dict[tuple[str, str], Product] = field(default_factory=dict)
    skus: dict[tuple[str, str], Sku] = field(default_factory=dict)
    movements: list[StockMovement] = field(default_factory=list)

    def add_merchant(self, merchant: Merchant) -> None:
        self.merchants[(merchant.tenant_id, merchant.merchant_id)] = merchant

    def get_merchant(self, tenant_id: str, merchant_id: str) -> Merchant | None:
        return self.merchants.get((tenant_id, merchant_id))

    def merchant_of_owner(self, tenant_id: str, user_id: str) -> Merchant | None:
        found = (
            m
            for m in self.merchants.values()
            if (m.tenant_id, m.owner_user_id) == (tenant_id, user_id)
        )
        return next(found, None)

    def list_merchants(self, tenant_id: str, after: str | None, limit: int) -> list[Merchant]:
        found = sorted(
            (
                m
                for (t, i), m in self.merchants.items()
                if t == tenant_id and (after is None or i > after)
            ),
            key=lambda m: m.merchant_id,
        )
        return found[:limit]

    def add_product(self, product: Product) -> None:
        self.products[(product.tenant_id, product.product_id)] = product

    def get_product(self, tenant_id: str, product_id: str) -> Product | None:
        return self.products.get((tenant_id, product_id))

    def list_products(
        self,
        tenant_id: str,
        merchant_id: str | None,
        only_active: bool,
        after: str | None,
        limit: int,
    ) -> list[Product]:
        found = [
            p
            for (t, i), p in sorted(self.products.items())
            if t == tenant_id
            and (merchant_id is None or p.merchant_id == merchant_id)
            and (not only_active or p.status == ProductStatus.ACTIVE)
            and (after is None or i > after)
        ]
        return found[:limit]

    def set_product_fields(self, tenant_id: str, product_id: str, values: dict[str, str]) -> None:
        where = (tenant_id, product_id)
        changed = replace(self.products[where], **values)  # type: ignore[arg-type]
        if "status" in values:
            changed = replace(changed, status=ProductStatus(values["status"]))
        self.products[where] = changed

    def add_sku(self, sku: Sku) -> None:
        self.skus[(sku.tenant_id, sku.sku_id)] = sku

    def get_sku(self, tenant_id: str, sku_id: str) -> Sku | None:
        return self.skus.get((tenant_id, sku_id))

    def sku_with_product(self, tenant_id: str, sku_id: str) -> tuple[Sku, Product] | None:
        sku = self.skus.get((tenant_id, sku_id))
        product = None if sku is None else self.products.get((tenant_id, sku.product_id))
        return None if sku is None or product is None else (sku, product)

    def list_skus(self, tenant_id: str, product_id: str) -> list[Sku]:
        return [
            s
            for (t, _), s in sorted(self.skus.items())
            if t == tenant_id and s.product_id == product_id
        ]

    def skus_with_contribution(self, tenant_id: str) -> list[Sku]:
        return [
            s
            for (t, _), s in sorted(self.skus.items())
            if t == tenant_id and s.pool_contribution_fen is not None
        ]

    def set_sku_fields(self, tenant_id: str, sku_id: str, values: dict[str, object]) -> None:
        assert "stock" not in values, "stock changes only through change_stock"
        where = (tenant_id, sku_id)
        self.skus[where] = replace(self.skus[where], **values)  # type: ignore[arg-type]

    def change_stock(self, tenant_id: str, sku_id: str, change: int) -> int | None:
        sku = self.skus.get((tenant_id, sku_id))
        if sku is None or sku.stock + change < 0:
            return None
        self.skus[(tenant_id, sku_id)] = replace(sku, stock=sku.stock + change)
        return sku.stock + change

    def add_movement(self, movement: StockMovement) -> None:
        self.movements.append(movement)

    def list_movements(self, tenant_id: str, sku_id: str, limit: int) -> list[StockMovement]:
        mine = [m for m in self.movements if (m.tenant_id, m.sku_id) == (tenant_id, sku_id)]
        return sorted(mine, key=lambda m: m.movement_id)[:limit]


@dataclass
class FakeCarts:
    """Cart lines by (tenant, user, SKU)."""

    rows: dict[tuple[str, str, str], CartLine] = field(default_factory=dict)

    def lines(self, tenant_id: str, user_id: str) -> list[CartLine]:
        mine = [line for (t, u, _), line in self.rows.items() if (t, u) == (tenant_id, user_id)]
        return sorted(mine, key=lambda line: (line.added_at, line.sku_id))

    def quantity(self, tenant_id: str, user_id: str, sku_id: str) -> int | None:
        line = self.rows.get((tenant_id, user_id, sku_id))
        return None if line is None else line.quantity

    def set_line(
        self, tenant_id: str, user_id: str, sku_id: str, quantity: int, now: datetime
    ) -> None:
        old = self.rows.get((tenant_id, user_id, sku_id))
        added = now if old is None else old.added_at
        self.rows[(tenant_id, user_id, sku_id)] = CartLine(sku_id, quantity, added)

    def remove_lines(self, tenant_id: str, user_id: str, sku_ids: Sequence[str]) -> int:
        gone = [self.rows.pop((tenant_id, user_id, s), None) for s in sku_ids]
        return sum(1 for line in gone if line is not None)


@dataclass
class FakePeople(FakeUserBook):
    def get_user(self, tenant_id: str, user_id: str) -> User | None:
        return self.users.get((tenant_id, user_id))


@dataclass
class FakeParams:
    """Every tenant's parameters (the defaults unless a test sets ``params``)."""

    params: Params = field(default_factory=Params)

    def of(self, tenant_id: str) -> Params:
        return self.params


@dataclass
class FakeHoldings:
    """The holders, the price, the settled days (newest first) and the dividends paid."""

    holders: dict[tuple[str, str], Holder] = field(default_factory=dict)
    prices: dict[str, tuple[int, int]] = field(default_factory=dict)
    settled: list[date] = field(default_factory=list)
    paid: dict[tuple[str, date], int] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    lines: dict[tuple[str, str], list[Movement]] = field(default_factory=dict)  # oldest first

    def price(self, tenant_id: str) -> tuple[int, int]:
        return self.prices.get(tenant_id, (1, 1))

    def holder(self, tenant_id: str, name: str) -> Holder:
        return self.holders.get((tenant_id, name), Holder(name))

    def dividend_days(self, tenant_id: str, user_id: str, days: int) -> list[tuple[date, int]]:
        return [(d, self.paid.get((user_id, d), 0)) for d in self.settled[:days]]

    def movements(
        self,
        tenant_id: str,
        holder: str,
        *,
        before: int | None,
        limit: int,
        holding: Holding | None = None,
    ) -> list[Movement]:
        found = [
            m
            for m in reversed(self.lines.get((tenant_id, holder), []))
            if (before is None or m.journal_id < before)
            and (holding is None or m.holding is holding)
        ]
        return found[:limit]

    def top_holders(self, tenant_id: str, limit: int) -> list[Holder]:
        found = [h for (t, _), h in self.holders.items() if t == tenant_id and h.points > 0]
        found.sort(key=lambda h: (-h.points, h.points_seq, h.name))
        return found[:limit]

    def display_names(self, tenant_id: str, names: Sequence[str]) -> dict[str, str]:
        return {n: self.names[n] for n in names if n in self.names}


@dataclass
class FakeJournals:
    """Journals by id (1, 2, …): when each was made and the price it recorded (None: a
    journal that records none)."""

    made: list[tuple[datetime, int | None]] = field(default_factory=list)

    def last_id(self, tenant_id: str) -> int:
        return len(self.made)

    def created_at(self, tenant_id: str, journal_id: int) -> datetime:
        return self.made[journal_id - 1][0]

    def close(self, tenant_id: str, upto: int) -> int | None:
        priced = [price for _, price in self.made[:upto] if price is not None]
        return priced[-1] if priced else None


@dataclass
class FakeAnswers:
    stored: dict[tuple[str, str, str], StoredResponse] = field(default_factory=dict)

    def find(self, tenant_id: str, scope: str, key: str) -> StoredResponse | None:
        return self.stored.get((tenant_id, scope, key))

    def add(
        self, tenant_id: str, scope: str, key: str, response: StoredResponse, now: datetime
    ) -> bool:
        where = (tenant_id, scope, key)
        if where in self.stored:
            return False
        self.stored[where] = response
        return True


@dataclass
class FakeOutbox:
    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def prefetch(self, tenant_id: str, version: int | None = None) -> None:
        pass

    def emit(self, tenant_id: str, event_type: str, data: dict[str, Any], now: datetime) -> None:
        self.events.append((tenant_id, event_type, data))


@dataclass
class FakeLedger:
    """The order ledger as a recorder: ``journals`` are (tenant, key, command name)."""

    grant_on: str = "paid"
    journals: list[tuple[str, str, str]] = field(default_factory=list)
    pending: list[tuple[str, str, str]] = field(default_factory=list)

    def _key(self, order_ref: str, step: str) -> str:
        return f"order:{order_ref}:{step}"

    def look_up(self, tenant_id: str, keys: Sequence[str]) -> Prefound:
        return Prefound(frozenset(keys), {})

    def look_up_later(self, tenant_id: str, keys: Sequence[str]) -> Callable[[], Prefound]:
        found = self.look_up(tenant_id, keys)
        return lambda: found

    def _purchase(self, buyer: str, amount_fen: int, contribution_fen: int | None) -> Purchased:
        contribution = amount_fen // 10 if contribution_fen is None else contribution_fen
        dividend = amount_fen // 20
        return Purchased(
            journal_id=len(self.journals) + len(self.pending) + 1,
            buyer=buyer,
            amount=amount_fen,
            contribution=contribution,
            dividend=dividend,
            revenue=amount_fen - contribution - dividend,
            quota_added=amount_fen * 2,
            grants=(Granted(buyer, amount_fen * POINTS_PER_FEN, 0),),
            price=100_000_000,
        )

    def pay_and_book(
        self,
        tenant_id: str,
        *,
        user: str,
        order_ref: str,
        amount_fen: int,
        contribution_fen: int | None,
        before: Sequence[c.Command],
        looked_up: Prefound | None,
        new_holders: Sequence[str],
        now: datetime,
    ) -> OrderPaid:
        for command in before:
            self.pending.append((tenant_id, command.idempotency_key, type(command).__name__))
        self.pending.append((tenant_id, self._key(order_ref, "payment"), "ReceivePayment"))
        purchase = None
        if self.grant_on == "paid":
            self.pending.append((tenant_id, self._key(order_ref, "purchase"), "Purchase"))
            purchase = self._purchase(user, amount_fen, contribution_fen)
        return OrderPaid(len(self.journals) + 1, purchase)

    def write_paid(self) -> None:
        self.journals.extend(self.pending)
        self.pending.clear()

    def book_rewards(
        self,
        tenant_id: str,
        *,
        user: str,
        order_ref: str,
        amount_fen: int,
        contribution_fen: int | None,
        now: datetime,
    ) -> Purchased:
        purchase = self._purchase(user, amount_fen, contribution_fen)
        self.journals.append((tenant_id, self._key(order_ref, "purchase"), "Purchase"))
        return purchase

    def complete(self, tenant_id: str, *, order_ref: str, now: datetime) -> None:
        self.journals.append((tenant_id, self._key(order_ref, "complete"), "Complete"))

    def refund(
        self,
        tenant_id: str,
        *,
        user: str,
        order_ref: str,
        amount_fen: int,
        booked: bool,
        approved_by: str | None,
        now: datetime,
    ) -> None:
        name = "RefundBooked" if booked else "RefundPayment"
        self.journals.append((tenant_id, self._key(order_ref, "refund"), name))


class FakeUnitOfWork:
    """The in-memory unit of work (see the module's docstring)."""

    def __init__(self, *, grant_on: str = "paid") -> None:
        self.integration = FakeIntegration()
        self.addresses = FakeAddresses()
        self.catalogue = FakeCatalogue()
        self.carts = FakeCarts()
        self.people = FakePeople()
        self.params = FakeParams()
        self.holdings = FakeHoldings()
        self.journals = FakeJournals()
        self.answers = FakeAnswers()
        self.outbox = FakeOutbox()
        self.ledger = FakeLedger(grant_on)
        self.withdrawals = FakeWithdrawals()
        self.audit = FakeAuditTrail()
        self.payouts = FakePayoutBook()
        self.cash = FakeCash()
        self.orders = FakeOrders()
        self.payments = FakePayments(orders=self.orders)
        self.refunds = FakeRefunds()
        self.order_money = FakeOrderMoney()
        self.nested = FakeNested(self)
        self.tenant_ledger = FakeTenantLedger()
        self.tenants = FakeTenants(ledger=self.tenant_ledger)
        self.referral_tree = FakeReferralTree()
        self.commissions = FakeCommissions()
        self.commission_ledger = FakeCommissionLedger()
        self.kyc = FakeKyc(self.people)
        self.trades = FakeTrades(self.holdings, self.params)
        self.settlement = FakeSettlements()
        self.holder_rights = FakeHolderRights()
        self.token_orders = FakeTokenOrders()
        self.credentials = FakeCredentials(self.people)
        self.operators = FakeOperators()
        self.webhooks = FakeWebhooks()
        self.access = FakeAccess(self.audit, self.people, self.integration)
        self.commits = 0
        self._saved: tuple[Any, ...] | None = None
        self._where: tuple[str, str, str, str] | None = None

    def _state(self) -> tuple[Any, ...]:
        return (
            self.integration,
            self.addresses,
            self.catalogue,
            self.carts,
            self.people,
            self.params,
            self.answers,
            self.outbox,
            self.ledger,
            self.withdrawals,
            self.audit,
            self.cash,
            self.orders,
            self.payments,
            self.refunds,
            self.order_money,
            self.tenants,
            self.referral_tree,
            self.commissions,
            self.commission_ledger,
            self.holdings,
            self.trades,
            self.settlement,
            self.credentials,
            self.operators,
            self.webhooks,
            self.access,
            self.kyc,
            self.token_orders,
            self.payouts,
        )

    def snapshot(self) -> tuple[Any, ...]:
        """A copy of everything the unit holds (to show a refusal changed nothing)."""
        return copy.deepcopy(self._state())

    def __enter__(self) -> FakeUnitOfWork:
        self._saved = self.snapshot()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if kind is None:
            self.commit()
        else:
            self.rollback()

    def commit(self) -> None:
        if self._saved is not None:
            self._saved = None
            self.commits += 1

    def rollback(self) -> None:
        if self._saved is not None:
            (
                self.integration,
                self.addresses,
                self.catalogue,
                self.carts,
                self.people,
                self.params,
                self.answers,
                self.outbox,
                self.ledger,
                self.withdrawals,
                self.audit,
                self.cash,
                self.orders,
                self.payments,
                self.refunds,
                self.order_money,
                self.tenants,
                self.referral_tree,
                self.commissions,
                self.commission_ledger,
                self.holdings,
                self.trades,
                self.settlement,
                self.credentials,
                self.operators,
                self.webhooks,
                self.access,
                self.kyc,
                self.token_orders,
                self.payouts,
            ) = self._saved
            self.tenant_ledger = self.tenants.ledger  # type: ignore[assignment]
            self._saved = None

    @contextmanager
    def writing(self) -> Iterator[None]:
        yield

    def answer_under(self, tenant_id: str, scope: str, key: str, request: str) -> None:
        self._where = (tenant_id, scope, key, request)

    def answer(self, status: int, body: str) -> None:
        if self._where is None:
            return
        tenant_id, scope, key, request = self._where
        where = (tenant_id, scope, key)
        self.answers.stored.setdefault(where, StoredResponse(request, status, body))
