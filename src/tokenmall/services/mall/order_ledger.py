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
                     after booking: an operator's adjustment from revenue (``refund_adjustment``)
                     with the commissions clawed back (``commission_clawback``)

Referral commissions are ``services/mall/commissions.py``'s; outgoing webhook events are
``services/mall/events.py``'s. Both are called from here, so no caller forgets them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tokenmall.adapters.db.store import Store
from tokenmall.domain.errors import RuleViolation
from tokenmall.domain.money import parse_money
from tokenmall.services import commands as c
from tokenmall.services import ledger
from tokenmall.services.mall import commissions, events


def _key(order_ref: str, step: str) -> str:
    return f"order:{order_ref}:{step}"


def _run(conn: Connection, command: c.Command) -> dict[str, Any]:
    return ledger.execute_in(Store(conn.engine), conn, command)


def grant_on(conn: Connection, tenant_id: str) -> str:
    """The tenant's ``grant_on`` now: ``paid`` or ``completed``."""
    params, _ = Store(conn.engine).load_params(conn, tenant_id)
    return params.grant_on


def record_payment(
    conn: Connection, tenant_id: str, *, user: str, order_ref: str, amount_fen: int
) -> dict[str, Any]:
    """A gateway (or the integrated shop) was paid ``amount_fen`` for the order."""
    return _run(
        conn,
        c.ReceivePayment(
            tenant_id=tenant_id,
            idempotency_key=_key(order_ref, "payment"),
            user=user,
            order_ref=order_ref,
            amount_fen=amount_fen,
        ),
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
) -> dict[str, Any]:
    """Rule 1 for a paid order, from escrow; then its commissions are frozen. Returns the
    purchase journal's result (points granted, price…)."""
    result = _run(
        conn,
        c.Purchase(
            tenant_id=tenant_id,
            idempotency_key=_key(order_ref, "purchase"),
            user=user,
            amount_fen=amount_fen,
            contribution_fen=contribution_fen,
            order_ref=order_ref,
            from_escrow=True,
        ),
    )
    commissions.on_booked(
        conn,
        tenant_id,
        order_ref=order_ref,
        buyer=user,
        amount_fen=amount_fen,
        revenue_fen=parse_money(result["revenue"]),
        now=now,
    )
    events.emit(
        conn,
        tenant_id,
        "points.granted",
        {"order_ref": order_ref, "user": user, "purchase": result},
        now,
    )
    return result


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
) -> dict[str, Any]:
    """Refund the order's money. Before its rewards are booked: from escrow (rule 9). After:
    only as an operator's (or admin's) audited adjustment out of revenue — the rewards stay —
    and its commissions are clawed back."""
    if not booked:
        return _run(
            conn,
            c.RefundPayment(
                tenant_id=tenant_id,
                idempotency_key=_key(order_ref, "refund"),
                user=user,
                order_ref=order_ref,
                amount_fen=amount_fen,
            ),
        )
    if approved_by is None:
        raise RuleViolation(
            "the order's rewards are booked: a refund now needs an admin's audited adjustment"
        )
    result = _run(
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
    return result
