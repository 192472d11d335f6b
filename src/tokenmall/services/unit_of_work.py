"""The unit of work a use case runs in: its repositories, its ledger, its outbox, its answer.

A use case takes a ``UnitOfWork`` instead of a database connection. Everything it reads and
writes goes through the unit's ports, and the unit commits whole or rolls back whole: leaving
its ``with`` block normally commits, an exception rolls back. The SQL unit
(``adapters/db/uow.py``, with the ledger and the outbox added in ``services/mall/uow.py``) is
what runs in production; the services tests run the same use cases on an in-memory fake.

The ports, each small:

* ``integration``: an integrated shop's orders, their stored event answers and its users;
* ``addresses``: the consumers' address books;
* ``catalogue``: merchants, products, SKUs and their stock movements;
* ``carts``: the consumers' cart lines;
* ``people``: the tenant's users, their sessions and API keys;
* ``tenants``, ``tenant_ledger``, ``referral_tree``, ``commissions``, ``commission_ledger``,
  ``kyc``: the people's ports
  (``unit_of_work_people.py``);
* ``params``: the tenant's economy parameters now;
* ``holdings``: what the ledger holds for each holder, the price, the dividends paid;
* ``journals``: when each ledger journal was made, and the price the priced ones recorded;
* ``answers``: the Idempotency-Key answers (looked up and stored);
* ``outbox``: the events to send to the tenant's webhook endpoints;
* ``ledger``: an order's money (payment, rewards, completion, refund) as ledger batches;
* ``writing()``: the unit's last writes, sent together (one PostgreSQL pipeline);
* ``withdrawals``: the members' withdrawals, their approvals and the tenant's rules;
* ``audit``: the audit trail (entries added with the change, and read back);
* ``payouts``: payee accounts, withdrawals' payouts, reconciliation reports
  (``unit_of_work_payouts.py``);
* ``cash``: a member's cash and debt, and the ledger steps of a withdrawal;
* ``orders``, ``payments``, ``refunds``, ``order_money``, ``nested``, ``holder_rights``,
  ``token_orders``: the mall's own orders (``unit_of_work_orders.py``);
* ``trades``, ``settlement``: the wallet's trades and the daily settlement
  (``unit_of_work_wallet.py``);
* ``credentials``, ``operators``, ``access``: members' password hashes, sessions and API
  keys, the platform's operators, and access control's records (the audit trail's pages,
  signup marks, integration caps) (``unit_of_work_accounts.py``);
* ``webhooks``: the tenant's webhook endpoints, its events and their deliveries
  (``unit_of_work_webhooks.py``);
* ``answer(status, body)``: the request's answer, stored under its Idempotency-Key among the
  unit's last writes (one statement, no savepoint), if the unit was opened for a key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Any, Protocol

from tokenmall.adapters.db.uow import NewUser, StoredEvent
from tokenmall.domain.economy.params import Params
from tokenmall.domain.economy.state import Holder
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.ledger.results import Purchased
from tokenmall.domain.mall.access import AuditEntry
from tokenmall.domain.mall.addresses import Address
from tokenmall.domain.mall.catalogue import Merchant, Product, Sku, StockMovement
from tokenmall.domain.mall.integration import ExternalUser, IntegrationOrder
from tokenmall.domain.mall.orders import CartLine
from tokenmall.domain.mall.people import User
from tokenmall.domain.mall.responses import StoredResponse
from tokenmall.domain.mall.statement import Holding, Movement
from tokenmall.domain.mall.withdrawals import Settings, Withdrawal, WithdrawalStatus
from tokenmall.services.ledger.execute import Prefound
from tokenmall.services.unit_of_work_accounts import AccessRecords, Credentials, Operators
from tokenmall.services.unit_of_work_orders import (
    HolderRights,
    Nested,
    OrderMoney,
    OrdersRepository,
    Payments,
    Refunds,
    TokenOrders,
)
from tokenmall.services.unit_of_work_payouts import PayoutBook
from tokenmall.services.unit_of_work_people import (
    CommissionLedger,
    Commissions,
    Kyc,
    ReferralTree,
    TenantLedger,
    Tenants,
    UserBook,
)
from tokenmall.services.unit_of_work_wallet import Settlements, Trades
from tokenmall.services.unit_of_work_webhooks import Webhooks


class IntegrationRepository(Protocol):
    def find_event(
        self, tenant_id: str, external_order_id: str, event: str
    ) -> StoredEvent | None: ...

    def add_event(
        self, order: IntegrationOrder, event: str, answer: StoredEvent, now: datetime
    ) -> None:
        """Store an event's first answer (on the fast path: it may be in a pipeline)."""

    def get_order(
        self, tenant_id: str, external_order_id: str, *, for_update: bool = False
    ) -> IntegrationOrder | None: ...

    def add_order(self, order: IntegrationOrder) -> None: ...

    def update_order(self, order: IntegrationOrder, fields: Sequence[str]) -> None:
        """Store these fields of the order (its state, amounts, times, rewards)."""

    def external_users(
        self, tenant_id: str, external_ids: Sequence[str]
    ) -> dict[str, ExternalUser]: ...

    def external_ids(self, tenant_id: str, user_ids: Sequence[str]) -> dict[str, str]:
        """The shop's ids of these mall users (those that have one)."""

    def add_users(self, tenant_id: str, users: Sequence[NewUser], now: datetime) -> None: ...

    def bind_referrer(self, tenant_id: str, external_id: str, referrer_id: str) -> None:
        """Bind a known user's referrer (only if none is bound)."""


class AddressBook(Protocol):
    def lock_user(self, tenant_id: str, user_id: str) -> None:
        """Hold the user's row until the unit ends (one change of their book at a time)."""

    def of_user(self, tenant_id: str, user_id: str) -> list[Address]:
        """The user's addresses: the default first, then the newest first."""

    def count_of_user(self, tenant_id: str, user_id: str) -> int: ...

    def get(self, tenant_id: str, address_id: str) -> Address | None: ...

    def default_of(self, tenant_id: str, user_id: str) -> Address | None: ...

    def add(self, address: Address) -> None: ...

    def change(
        self, tenant_id: str, address_id: str, updated_at: datetime, values: dict[str, object]
    ) -> None: ...

    def make_default(self, tenant_id: str, user_id: str, address_id: str, now: datetime) -> None:
        """``address_id`` becomes the user's one default (the others are cleared)."""

    def remove(self, tenant_id: str, address_id: str) -> int: ...


class Catalogue(Protocol):
    def add_merchant(self, merchant: Merchant) -> None: ...

    def get_merchant(self, tenant_id: str, merchant_id: str) -> Merchant | None: ...

    def merchant_of_owner(self, tenant_id: str, user_id: str) -> Merchant | None: ...

    def list_merchants(self, tenant_id: str, after: str | None, limit: int) -> list[Merchant]:
        """In id order, after ``after``."""

    def add_product(self, product: Product) -> None: ...

    def get_product(self, tenant_id: str, product_id: str) -> Product | None: ...

    def list_products(
        self,
        tenant_id: str,
        merchant_id: str | None,
        only_active: bool,
        after: str | None,
        limit: int,
    ) -> list[Product]:
        """In id order, after ``after`` (``only_active``: the active ones only)."""

    def set_product_fields(self, tenant_id: str, product_id: str, values: dict[str, str]) -> None:
        """Set the title, description or status."""

    def add_sku(self, sku: Sku) -> None: ...

    def get_sku(self, tenant_id: str, sku_id: str) -> Sku | None: ...

    def sku_with_product(self, tenant_id: str, sku_id: str) -> tuple[Sku, Product] | None:
        """The SKU and its product, read together; None if there is no such SKU."""

    def list_skus(self, tenant_id: str, product_id: str) -> list[Sku]: ...

    def skus_with_contribution(self, tenant_id: str) -> list[Sku]:
        """The tenant's SKUs that carry a fixed pool contribution, in id order."""

    def set_sku_fields(self, tenant_id: str, sku_id: str, values: dict[str, object]) -> None:
        """Set the name, price or pool contribution (never the stock)."""

    def change_stock(self, tenant_id: str, sku_id: str, change: int) -> int | None:
        """Add ``change`` (negative to take) if the stock stays >= 0, atomically: the new
        stock, or None (too few left, or no such SKU)."""

    def add_movement(self, movement: StockMovement) -> None: ...

    def list_movements(self, tenant_id: str, sku_id: str, limit: int) -> list[StockMovement]:
        """In id order (the order they were made), at most ``limit``."""


class Carts(Protocol):
    def lines(self, tenant_id: str, user_id: str) -> list[CartLine]:
        """The user's lines, the first added first."""

    def quantity(self, tenant_id: str, user_id: str, sku_id: str) -> int | None: ...

    def set_line(
        self, tenant_id: str, user_id: str, sku_id: str, quantity: int, now: datetime
    ) -> None: ...

    def remove_lines(self, tenant_id: str, user_id: str, sku_ids: Sequence[str]) -> int: ...


class People(UserBook, Protocol):
    def get_user(self, tenant_id: str, user_id: str) -> User | None: ...


class TenantParams(Protocol):
    def of(self, tenant_id: str) -> Params:
        """The tenant's economy parameters now."""


class Holdings(Protocol):
    def price(self, tenant_id: str) -> tuple[int, int]:
        """The price now: fen per 1e-8 point unit, ``(num, den)``."""

    def holder(self, tenant_id: str, name: str) -> Holder:
        """A user's or a merchant's holdings (empty if the ledger has none yet)."""

    def dividend_days(self, tenant_id: str, user_id: str, days: int) -> list[tuple[date, int]]:
        """The last ``days`` settled days, newest first, with the user's dividend (fen)."""

    def movements(
        self,
        tenant_id: str,
        holder: str,
        *,
        before: int | None,
        limit: int,
        holding: Holding | None = None,
    ) -> list[Movement]:
        """The holder's statement lines, newest journal first, journals before ``before``."""

    def top_holders(self, tenant_id: str, limit: int) -> list[Holder]:
        """The holders with points, the most first (then who got there first, then name)."""

    def display_names(self, tenant_id: str, names: Sequence[str]) -> dict[str, str]:
        """Users' display names and merchants' store names, by holder name."""


class Journals(Protocol):
    def last_id(self, tenant_id: str) -> int:
        """The tenant's last journal id (0: none yet); ids are dense and in commit order."""

    def created_at(self, tenant_id: str, journal_id: int) -> datetime:
        """When the journal was made (UTC)."""

    def close(self, tenant_id: str, upto: int) -> int | None:
        """The price (1e-8 yuan per point) recorded by the last purchase, buyback, conversion
        or redemption journal at or before ``upto``."""


class Answers(Protocol):
    def find(self, tenant_id: str, scope: str, key: str) -> StoredResponse | None: ...

    def add(
        self, tenant_id: str, scope: str, key: str, response: StoredResponse, now: datetime
    ) -> bool:
        """Store an answer under its key; False if a racing request stored one first (and
        then nothing of this call is stored)."""


class Outbox(Protocol):
    def prefetch(self, tenant_id: str, version: int | None = None) -> None:
        """Read what ``emit`` needs now (before a lock is taken); ``version``: the tenant's
        configuration version read in this transaction (what ``emit`` needs may then come
        from a cache kept against it)."""

    def emit(
        self, tenant_id: str, event_type: str, data: dict[str, Any], now: datetime
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class OrderPaid:
    """An order's payment and, at ``grant_on = paid``, its booking, applied to the ledger
    (not written yet: ``OrderLedger.write_paid`` writes it among the unit's last writes)."""

    payment_journal_id: int
    purchase: Purchased | None


class OrderLedger(Protocol):
    def look_up(self, tenant_id: str, keys: Sequence[str]) -> Prefound:
        """Ledger keys looked up before the tenant's lock (for a unit retried on a race)."""

    def look_up_later(self, tenant_id: str, keys: Sequence[str]) -> Callable[[], Prefound]:
        """``look_up`` sent now, read when called for: in a pipeline, with its other
        statements (one round trip)."""

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
        """Apply the payment (after ``before``) and, at ``grant_on = paid``, the booking;
        read what their writes need. Nothing is written until ``write_paid``."""

    def write_paid(self) -> None:
        """Write what ``pay_and_book`` applied (inside ``UnitOfWork.writing``)."""

    def book_rewards(
        self,
        tenant_id: str,
        *,
        user: str,
        order_ref: str,
        amount_fen: int,
        contribution_fen: int | None,
        now: datetime,
    ) -> Purchased: ...

    def complete(self, tenant_id: str, *, order_ref: str, now: datetime) -> None: ...

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
    ) -> None: ...


class UnitOfWork(Protocol):
    """One business transaction (see the module's docstring)."""

    @property
    def integration(self) -> IntegrationRepository: ...

    @property
    def addresses(self) -> AddressBook: ...

    @property
    def catalogue(self) -> Catalogue: ...

    @property
    def carts(self) -> Carts: ...

    @property
    def people(self) -> People: ...

    @property
    def params(self) -> TenantParams: ...

    @property
    def holdings(self) -> Holdings: ...

    @property
    def journals(self) -> Journals: ...

    @property
    def answers(self) -> Answers: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def ledger(self) -> OrderLedger: ...

    @property
    def withdrawals(self) -> Withdrawals: ...

    @property
    def audit(self) -> AuditTrail: ...

    @property
    def payouts(self) -> PayoutBook: ...

    @property
    def cash(self) -> Cash: ...

    @property
    def orders(self) -> OrdersRepository: ...

    @property
    def payments(self) -> Payments: ...

    @property
    def refunds(self) -> Refunds: ...

    @property
    def order_money(self) -> OrderMoney: ...

    @property
    def nested(self) -> Nested: ...

    @property
    def tenants(self) -> Tenants: ...

    @property
    def tenant_ledger(self) -> TenantLedger: ...

    @property
    def referral_tree(self) -> ReferralTree: ...

    @property
    def commissions(self) -> Commissions: ...

    @property
    def commission_ledger(self) -> CommissionLedger: ...

    @property
    def kyc(self) -> Kyc: ...

    @property
    def trades(self) -> Trades: ...

    @property
    def settlement(self) -> Settlements: ...

    @property
    def holder_rights(self) -> HolderRights: ...

    @property
    def token_orders(self) -> TokenOrders: ...

    @property
    def credentials(self) -> Credentials: ...

    @property
    def operators(self) -> Operators: ...

    @property
    def webhooks(self) -> Webhooks: ...

    @property
    def access(self) -> AccessRecords: ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def writing(self) -> AbstractContextManager[Any]:
        """The unit's last writes, sent together (one PostgreSQL pipeline)."""

    def answer(self, status: int, body: str) -> None:
        """Store the request's answer under its Idempotency-Key (once; nothing without a
        key)."""


class Units(Protocol):
    """Where units of work come from (the mall's ``Database``), for a use case that runs
    more than one (a sign-in reads, checks the password outside any transaction, then
    writes)."""

    def unit(self) -> UnitOfWork:
        """A unit in a transaction of its own (enter it to begin)."""

    def reading(self) -> AbstractContextManager[UnitOfWork]:
        """A unit that only reads."""

    def reading_one(self) -> AbstractContextManager[UnitOfWork]:
        """A unit for reads that each stand alone (one statement, its own snapshot): where
        the database allows, no transaction around it (no BEGIN and ROLLBACK round trips)."""


# -- withdrawals, the audit trail and cash -------------------------------------------------------


class Withdrawals(Protocol):
    def settings(self, tenant_id: str) -> Settings:
        """The tenant's withdrawal rules (the defaults if it never changed them)."""

    def put_settings(self, tenant_id: str, settings: Settings) -> None: ...

    def add(self, withdrawal: Withdrawal) -> None: ...

    def get(
        self, tenant_id: str, withdrawal_id: str, *, for_update: bool = False
    ) -> Withdrawal | None: ...

    def list(
        self,
        tenant_id: str,
        *,
        user_id: str | None,
        status: str | None,
        after: str | None,
        limit: int,
        merchant_id: str | None = None,
    ) -> list[Withdrawal]:
        """In id order, after ``after``; with ``merchant_id``, only that store's."""

    def add_approval(
        self, tenant_id: str, withdrawal_id: str, admin_id: str, now: datetime
    ) -> bool:
        """Record an admin's approval; False if that admin already approved it."""

    def require_approvals(self, tenant_id: str, withdrawal_id: str, count: int) -> None:
        """Raise the approvals needed (never lowers them)."""

    def decide(
        self,
        tenant_id: str,
        withdrawal_id: str,
        *,
        status: WithdrawalStatus,
        decided_by: str,
        reason: str | None,
        decided_at: datetime,
        source: WithdrawalStatus = ...,
    ) -> bool:
        """Move a withdrawal on from ``source`` (default pending); False if it was not in
        ``source`` any more."""


class AuditTrail(Protocol):
    def add(self, tenant_id: str, entry: AuditEntry) -> None: ...

    def about(
        self, tenant_id: str, subject_ids: Sequence[str], actions: tuple[str, ...]
    ) -> list[AuditEntry]:
        """The entries of these actions about these subjects, oldest first."""

    def since(self, tenant_id: str, actions: tuple[str, ...], since: datetime) -> list[AuditEntry]:
        """The entries of these actions at or after ``since``, newest first."""


class Cash(Protocol):
    def lock_tenant(self, tenant_id: str) -> None:
        """Take the tenant's ledger lock until the unit ends."""

    def cash_of(self, tenant_id: str, user_id: str) -> int: ...

    def debt_of(self, tenant_id: str, user_id: str) -> int: ...

    def repay_debt(self, command: c.RepayDebt, now: datetime) -> None:
        """Repay the debt in the ledger and mark it repaid."""

    def post(self, command: c.Command) -> None:
        """Apply one ledger command (a withdrawal's hold, payout or release)."""
