"""Market cash paid in through the payment gateway (sandbox): a deposit and its callback.

Market cash IS the user's one cash balance in the ledger (``user_cash``): the same balance
dividends, buybacks and commissions pay into and withdrawals (``services/mall/withdrawals``,
with their approvals) take from. A deposit's payment id is ``mdp_`` and the deposit's own id
(``dep_…``), so the gateway's reference names the deposit. Its callback, in one transaction:
the gateway event must be new (a replay is refused and changes nothing), the amount the
deposit's; ``payment.succeeded`` on a pending deposit books ``MarketDeposit`` (idempotent by
the deposit: ``market:deposit:<id>``) into the user's cash and marks it paid; a failure changes
nothing (the payer may try again). Every callback is stored, accepted or refused, as orders'.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from tokenmall.adapters.db.mall import payments as payments_repo
from tokenmall.adapters.db.market.trades import DepositRow
from tokenmall.domain.errors import DomainError, ErrorKind
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.mall.gateway import CallbackEvent, CallbackRefused
from tokenmall.domain.market import Code, MarketRefused
from tokenmall.services.mall import ids, journal
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.gateway import Gateway
from tokenmall.services.mall.uow import Database, MallUnitOfWork
from tokenmall.services.nfg import registry

__all__ = ["DepositRow", "Started", "handle_callback", "mine", "of_payment", "start"]

MAX_DEPOSIT = 100_000_000  # fen: 1,000,000.00 at once


def payment_id_of(deposit_id: str) -> str:
    return "pay_" + deposit_id.split("_", 1)[1]


def deposit_id_of(payment_id: str) -> str | None:
    prefix, _, rest = payment_id.partition("_")
    return f"dep_{rest}" if prefix == "pay" and rest else None


def of_payment(db: Database, tenant_id: str, payment_id: str) -> DepositRow | None:
    """The deposit the gateway's payment pays, if it is a deposit's."""
    deposit_id = deposit_id_of(payment_id)
    if deposit_id is None:
        return None
    with db.reading() as unit:
        return unit.market.deposit(tenant_id, deposit_id)


def is_deposit(db: Database, tenant_id: str, payment_id: str) -> bool:
    """Whether the gateway's payment is a deposit's (its id names a stored deposit)."""
    return of_payment(db, tenant_id, payment_id) is not None


@dataclass(frozen=True, slots=True)
class Started:
    deposit: DepositRow
    redirect_url: str | None


def start(
    unit: MallUnitOfWork,
    gateway: Gateway,
    caller: Principal | None,
    tenant_id: str,
    amount: int,
    now: datetime,
) -> Started:
    """Open a deposit of ``amount`` fen: a pending row and the gateway's payment page."""
    user = require(caller, tenant_id, registry.EVERYONE).subject_id
    if not 0 < amount <= MAX_DEPOSIT:
        raise MarketRefused(Code.INVALID_INPUT, "amount must be 0.01 to 1000000.00", "amount")
    deposit_id = ids.new_id("dep")
    created = gateway.create_payment(
        tenant_id=tenant_id,
        payment_id=payment_id_of(deposit_id),
        order_id=deposit_id,
        amount_fen=amount,
    )
    row = DepositRow(tenant_id, deposit_id, user, amount, "pending", None, None, now, None)
    unit.market.add_deposit(row)
    return Started(row, created.redirect_url)


def mine(unit: MallUnitOfWork, caller: Principal | None, tenant_id: str) -> list[DepositRow]:
    user = require(caller, tenant_id, registry.EVERYONE).subject_id
    return unit.market.deposits_of_user(tenant_id, user)


@dataclass(frozen=True, slots=True)
class DepositCallbackResult:
    event_id: str
    payment_id: str
    deposit_id: str
    deposit_status: str
    outcome: str

    def to_json(self) -> dict[str, Any]:
        return {
            "status": "accepted",
            "event_id": self.event_id,
            "payment_id": self.payment_id,
            "deposit_id": self.deposit_id,
            "deposit_status": self.deposit_status,
            "outcome": self.outcome,
        }


def handle_callback(
    db: Database, gateway: Gateway, headers: dict[str, str], body: bytes, now: datetime
) -> DepositCallbackResult | None:
    """Apply a gateway callback if it is a deposit's (None: it is not, or it does not verify:
    the orders' and the drop's handling takes it, and records a refusal); ``CallbackRefused``,
    recorded, if refused."""
    try:
        event = gateway.verify_callback(headers, body, now)
    except CallbackRefused:
        return None
    if not is_deposit(db, event.tenant_id, event.payment_id):
        return None
    text = body.decode("utf-8", "replace")
    try:
        try:
            with db.unit() as unit:
                result = _apply(unit, gateway, event, now)
                _store(unit, gateway, event, "accepted", result.outcome, text, now)
        except IntegrityError:
            with db.read() as conn:
                seen = payments_repo.gateway_event_seen(
                    conn, event.tenant_id, gateway.name, event.event_id
                )
            if not seen:
                raise
            raise CallbackRefused(
                "replayed", "this event was already processed", ErrorKind.CONFLICT
            ) from None
        except CallbackRefused:
            raise
        except DomainError as exc:
            raise CallbackRefused(
                "not_applied", f"the event could not be applied: {exc}", ErrorKind.CONFLICT
            ) from exc
    except CallbackRefused as exc:
        with db.unit() as unit:
            _store(unit, gateway, event, "refused", f"{exc.reason}: {exc}", text, now)
        raise
    return result


def _store(
    unit: MallUnitOfWork, gateway: Gateway, event: CallbackEvent, outcome: str, reason: str,
    text: str, now: datetime,
) -> None:  # fmt: skip
    payments_repo.add_callback(
        unit.conn, tenant_id=event.tenant_id, callback_id=ids.new_id("cbk"),
        gateway=gateway.name, event_id=event.event_id, payment_id=event.payment_id,
        outcome=outcome, reason=reason[:200], body=text, now=now,
    )  # fmt: skip


def _apply(
    unit: MallUnitOfWork, gateway: Gateway, event: CallbackEvent, now: datetime
) -> DepositCallbackResult:
    t = event.tenant_id
    if payments_repo.gateway_event_seen(unit.conn, t, gateway.name, event.event_id):
        raise CallbackRefused("replayed", "this event was already processed", ErrorKind.CONFLICT)
    deposit_id = deposit_id_of(event.payment_id)
    found = None if deposit_id is None else unit.market.deposit(t, deposit_id, for_update=True)
    if deposit_id is None or found is None:
        raise CallbackRefused("unknown_payment", "no such payment", ErrorKind.NOT_FOUND)
    if event.amount_fen != found.amount:
        raise CallbackRefused(
            "amount_mismatch",
            f"the event's amount differs from the deposit's ({found.amount} fen)",
            ErrorKind.INVALID,
        )
    payments_repo.add_gateway_event(
        unit.conn, t, gateway.name, event.event_id, event.payment_id, event.type, now
    )
    status, outcome = found.status, "no change"
    if event.type == "payment.succeeded" and found.status == "pending":
        result = journal.run(
            unit.conn,
            c.MarketDeposit(
                tenant_id=t,
                idempotency_key=f"market:deposit:{deposit_id}",
                user=found.user_id,
                ref=deposit_id,
                amount_fen=found.amount,
            ),
        )
        unit.market.mark_deposit_paid(t, deposit_id, int(result["journal_id"]), None, now)
        status, outcome = "paid", "market cash deposited"
    elif event.type != "payment.succeeded":
        outcome = "payment failed"
    return DepositCallbackResult(event.event_id, event.payment_id, deposit_id, status, outcome)
