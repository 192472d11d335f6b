"""An order's money through the ledger: paid, rewards booked, refunded — for every kind of order.

Both the mall's own orders (cart and checkout) and orders an integrated shop pushes over the
integration API go through these functions, inside the caller's transaction, so an order's
state and its journals commit together. Each ledger command's idempotency key is derived from
the tenant-unique ``order_ref`` and the step (``order:<ref>:payment`` …): running a step twice
returns the first journal's result and changes nothing.

Lifecycle (economy.md rule 9 and ``grant_on``)::

    record_payment   money from the gateway waits in escrow          (journal ``payment``)
    book_rewards     at ``grant_on``: rule 1 from escrow, then the    (``purchase``,
                     order's distribution commissions are frozen       ``commission_freeze``)
    complete         frozen commissions released to referrers' cash  (``commission_release``)
    refund           before booking: escrow back to the gateway      (``refund``)
                     after booking: the rewards taken back (``refund_reversal``), the money
                     from revenue (``refund_adjustment``), the commissions clawed back
                     (``commission_clawback``)

Referral commissions are ``services/mall/commissions.py``'s; outgoing webhook events are
``services/mall/events.py``'s. Both are called from here, so no caller forgets them.

A unit of work reaches them through its ports: ``SqlOrderLedger`` (``OrderLedger``) and
``SqlOrderMoney`` (``OrderMoney``: the stable points of the mall's own orders, a stray
payment recorded, what a refund would take back).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tokenmall.adapters.db.mall import commissions as commissions_repo
from tokenmall.adapters.db.store import Store
from tokenmall.domain.errors import RuleViolation
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.ledger.results import Purchased
from tokenmall.domain.mall.commissions import CommissionRow
from tokenmall.services.ledger import execute as ledger
from tokenmall.services.ledger.book import TenantBook
from tokenmall.services.mall import commissions, events, journal
from tokenmall.services.unit_of_work import OrderPaid


def _key(order_ref: str, step: str) -> str:
    return f"order:{order_ref}:{step}"


def grant_on(conn: Connection, tenant_id: str) -> str:
    """The tenant's ``grant_on`` now: ``paid`` or ``completed`` (its state row's parameters
    version, the parameters from the per-process cache)."""
    return Store(conn.engine).current_params(conn, tenant_id).grant_on


def _payment(tenant_id: str, user: str, order_ref: str, amount_fen: int) -> c.ReceivePayment:
    return c.ReceivePayment(
        tenant_id=tenant_id,
        idempotency_key=_key(order_ref, "payment"),
        user=user,
        order_ref=order_ref,
        amount_fen=amount_fen,
    )


def record_payment(
    conn: Connection, tenant_id: str, *, user: str, order_ref: str, amount_fen: int
) -> int:
    """A gateway (or the integrated shop) was paid ``amount_fen`` for the order: the payment
    journal's id."""
    return int(journal.run(conn, _payment(tenant_id, user, order_ref, amount_fen))["journal_id"])


def order_keys(order_ref: str) -> list[str]:
    """The ledger keys ``pay_and_book`` uses (to look them up before the tenant's lock)."""
    return [_key(order_ref, step) for step in ("payment", "purchase", "commission_freeze")]


@dataclass(slots=True)
class _Pending:
    """An order's payment (and booking) applied to the book, its writes not sent yet."""

    conn: Connection
    tenant_id: str
    user: str
    order_ref: str
    now: datetime
    batch: ledger.LedgerBatch
    payment_journal_id: int
    purchase: Purchased | None
    rows: commissions.BookedRows | None


def _apply_paid(
    conn: Connection,
    tenant_id: str,
    *,
    user: str,
    order_ref: str,
    amount_fen: int,
    contribution_fen: int | None,
    now: datetime,
    before: Sequence[c.Command],
    looked_up: ledger.Prefound | None,
    book: TenantBook | None,
    new_holders: Sequence[str],
) -> _Pending:
    """The reads of ``SqlOrderLedger.pay_and_book``: the tenant locked (or the writer's
    ``book``), the payment and (``grant_on = paid``) the booking applied, the booking's rows
    made."""
    store = Store(conn.engine)
    keys = [*order_keys(order_ref), *(command.idempotency_key for command in before)]
    batch = ledger.LedgerBatch(
        store, conn, tenant_id, keys, looked_up=looked_up, write_on_exit=False, book=book
    )
    booked: tuple[Purchased, bool, tuple[dict[str, Any], bool] | None] | None = None
    with batch:
        batch.known_absent(new_holders)
        for command in before:
            batch.run(command)
        payment = int(batch.run(_payment(tenant_id, user, order_ref, amount_fen))["journal_id"])
        if batch.params.grant_on == "paid":
            booked = _book_in(
                batch,
                user=user,
                order_ref=order_ref,
                amount_fen=amount_fen,
                contribution_fen=contribution_fen,
            )
    rows = None
    if booked is not None:
        purchase, fresh, freeze = booked
        rows = commissions.booked_rows(
            conn,
            tenant_id,
            order_ref=order_ref,
            buyer=user,
            purchase=purchase.to_json(),
            freeze=freeze,
            fresh=fresh,
            now=now,
        )
    events.prefetch(conn, tenant_id)
    return _Pending(
        conn,
        tenant_id,
        user,
        order_ref,
        now,
        batch,
        payment,
        None if booked is None else booked[0],
        rows,
    )


def _granted(
    conn: Connection,
    tenant_id: str,
    user: str,
    order_ref: str,
    purchase: dict[str, Any],
    now: datetime,
) -> None:
    events.emit(
        conn,
        tenant_id,
        "points.granted",
        {"order_ref": order_ref, "user": user, "purchase": purchase},
        now,
    )


def book_rewards(
    conn: Connection,
    tenant_id: str,
    *,
    user: str,
    order_ref: str,
    amount_fen: int,
    contribution_fen: int | None,
    now: datetime,
) -> Purchased:
    """Rule 1 for a paid order, from escrow; then its commissions are frozen (one ledger
    batch). Returns the purchase journal's result (points granted, price…)."""
    keys = [_key(order_ref, step) for step in ("purchase", "commission_freeze")]
    with ledger.LedgerBatch(Store(conn.engine), conn, tenant_id, keys) as batch:
        purchase, fresh, freeze = _book_in(
            batch,
            user=user,
            order_ref=order_ref,
            amount_fen=amount_fen,
            contribution_fen=contribution_fen,
        )
    _booked(conn, tenant_id, user, order_ref, purchase.to_json(), fresh, freeze, now)
    return purchase


def _book_in(
    batch: ledger.LedgerBatch,
    *,
    user: str,
    order_ref: str,
    amount_fen: int,
    contribution_fen: int | None,
) -> tuple[Purchased, bool, tuple[dict[str, Any], bool] | None]:
    """The purchase (from escrow) and the commission freeze, in the caller's batch."""
    purchase, fresh = batch.purchase(
        c.Purchase(
            tenant_id=batch.tenant_id,
            idempotency_key=_key(order_ref, "purchase"),
            user=user,
            amount_fen=amount_fen,
            contribution_fen=contribution_fen,
            order_ref=order_ref,
            from_escrow=True,
        )
    )
    freeze = commissions.freeze_in(
        batch,
        order_ref=order_ref,
        buyer=user,
        amount_fen=amount_fen,
        revenue_fen=purchase.revenue,
    )
    return purchase, fresh, freeze


def _booked(
    conn: Connection,
    tenant_id: str,
    user: str,
    order_ref: str,
    purchase: dict[str, Any],
    fresh: bool,
    freeze: tuple[dict[str, Any], bool] | None,
    now: datetime,
) -> None:
    """The mall's rows of a booking (referral grants, commissions) and its event."""
    commissions.record_booked(
        conn,
        tenant_id,
        order_ref=order_ref,
        buyer=user,
        purchase=purchase,
        freeze=freeze,
        fresh=fresh,
        now=now,
    )
    _granted(conn, tenant_id, user, order_ref, purchase, now)


def complete(conn: Connection, tenant_id: str, *, order_ref: str, now: datetime) -> None:
    """The order completed (its return window is over): release its frozen commissions."""
    commissions.on_completed(conn, tenant_id, order_ref=order_ref, now=now)


def refund(
    conn: Connection,
    tenant_id: str,
    *,
    user: str,
    order_ref: str,
    amount_fen: int,
    booked: bool,
    approved_by: str | None,
    now: datetime,
) -> int:
    """Refund the order's money (the refund journal's id). Before its rewards are booked: from
    escrow (rule 9). After: only as an admin's audited adjustment: the order's rewards are
    taken back first (``ReverseOrderRewards``: points burned, quota and spend removed, debts
    for what already left), the money comes out of revenue and the commissions are clawed
    back."""
    if not booked:
        done = journal.run(
            conn,
            c.RefundPayment(
                tenant_id=tenant_id,
                idempotency_key=_key(order_ref, "refund"),
                user=user,
                order_ref=order_ref,
                amount_fen=amount_fen,
            ),
        )
        return int(done["journal_id"])
    if approved_by is None:
        raise RuleViolation(
            "the order's rewards are booked: a refund now needs an admin's audited adjustment"
        )
    taken = ledger.reverse_order_in(
        Store(conn.engine),
        conn,
        c.ReverseOrderRewards(
            tenant_id=tenant_id,
            idempotency_key=_key(order_ref, "reversal"),
            order_ref=order_ref,
            approved_by=approved_by,
            refund_fen=amount_fen,
        ),
    )
    for row in taken.reversal.holders:
        if row.debt:
            commissions_repo.add_debt(conn, tenant_id, row.holder, row.debt, now)
    result = journal.run(
        conn,
        c.RefundBooked(
            tenant_id=tenant_id,
            idempotency_key=_key(order_ref, "refund"),
            user=user,
            order_ref=order_ref,
            amount_fen=amount_fen,
            approved_by=approved_by,
        ),
    )
    commissions.on_refunded(conn, tenant_id, order_ref=order_ref, now=now)
    return int(result["journal_id"])


class SqlOrderLedger:
    """The ``OrderLedger`` port of a unit of work on ``conn`` (``book``: the book of the unit
    writer that holds the tenant's lock in this transaction)."""

    def __init__(self, conn: Connection, book: TenantBook | None = None) -> None:
        self.conn = conn
        self.book = book
        self.pending: _Pending | None = None

    def look_up(self, tenant_id: str, keys: Sequence[str]) -> ledger.Prefound:
        return ledger.look_up(Store(self.conn.engine), self.conn, tenant_id, keys)

    def look_up_later(self, tenant_id: str, keys: Sequence[str]) -> Callable[[], ledger.Prefound]:
        return ledger.look_up_later(Store(self.conn.engine), self.conn, tenant_id, keys)

    def pay_and_book(
        self,
        tenant_id: str,
        *,
        user: str,
        order_ref: str,
        amount_fen: int,
        contribution_fen: int | None,
        before: Sequence[c.Command],
        looked_up: ledger.Prefound | None,
        new_holders: Sequence[str],
        now: datetime,
    ) -> OrderPaid:
        pending = self.pending = _apply_paid(
            self.conn,
            tenant_id,
            user=user,
            order_ref=order_ref,
            amount_fen=amount_fen,
            contribution_fen=contribution_fen,
            now=now,
            before=before,
            looked_up=looked_up,
            book=self.book,
            new_holders=new_holders,
        )
        return OrderPaid(pending.payment_journal_id, pending.purchase)

    def write_paid(self) -> None:
        """The ledger batch, the booking's rows and its ``points.granted`` event."""
        pending, self.pending = self.pending, None
        if pending is None:
            return
        pending.batch.flush()
        if pending.rows is not None and pending.purchase is not None:
            commissions.add_booked_rows(self.conn, pending.tenant_id, pending.rows)
            purchase = pending.purchase.to_json()
            where = (pending.tenant_id, pending.user, pending.order_ref)
            _granted(self.conn, *where, purchase, pending.now)

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
        return book_rewards(
            self.conn,
            tenant_id,
            user=user,
            order_ref=order_ref,
            amount_fen=amount_fen,
            contribution_fen=contribution_fen,
            now=now,
        )

    def complete(self, tenant_id: str, *, order_ref: str, now: datetime) -> None:
        complete(self.conn, tenant_id, order_ref=order_ref, now=now)

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
        refund(
            self.conn,
            tenant_id,
            user=user,
            order_ref=order_ref,
            amount_fen=amount_fen,
            booked=booked,
            approved_by=approved_by,
            now=now,
        )


class SqlOrderMoney:
    """The ``OrderMoney`` port: the ledger steps only the mall's own orders take."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def pay_stable(
        self, tenant_id: str, *, user: str, merchant: str, order_ref: str, amount_fen: int
    ) -> None:
        journal.run(
            self.conn,
            c.PayStable(
                tenant_id=tenant_id,
                idempotency_key=_key(order_ref, "stable"),
                user=user,
                merchant=merchant,
                amount_fen=amount_fen,
            ),
        )

    def return_stable(
        self, tenant_id: str, *, user: str, merchant: str, order_ref: str, amount_fen: int
    ) -> None:
        journal.run(
            self.conn,
            c.RefundStable(
                tenant_id=tenant_id,
                idempotency_key=_key(order_ref, "stable-refund"),
                user=user,
                order_ref=order_ref,
                merchant=merchant,
                amount_fen=amount_fen,
            ),
        )

    def record_payment(self, tenant_id: str, *, user: str, order_ref: str, amount_fen: int) -> int:
        return record_payment(
            self.conn, tenant_id, user=user, order_ref=order_ref, amount_fen=amount_fen
        )

    def preview_reversal(self, tenant_id: str, order_ref: str) -> dict[str, Any]:
        store = Store(self.conn.engine)
        return ledger.preview_order_reversal(store, self.conn, tenant_id, order_ref).to_json()

    def commissions_of(self, tenant_id: str, order_ref: str) -> list[CommissionRow]:
        return commissions_repo.order_commissions(self.conn, tenant_id, order_ref)
