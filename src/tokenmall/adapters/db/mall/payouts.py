"""Payee accounts, payouts of withdrawals, the daily reconciliations' reports, and the
ledger's side of a channel's bill (the payments and refunds a day booked through it).

A payee's account and real name are sealed under the deployment secret (as the real-name
details are); the row keeps the masked account for pages. A payout keeps a sealed copy of the
payee it pays, so a retry pays the same account even if the person changed theirs meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    Date,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    delete,
    select,
    update,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tokenmall.adapters.db import fast
from tokenmall.adapters.db.mall.payments import payment_and_order_status, payment_of, payments
from tokenmall.adapters.db.mall.refunds import refunds
from tokenmall.adapters.db.mall.rows import at, aware, one_of, record, values
from tokenmall.adapters.db.mall.tables import ID, TENANT_ID, metadata
from tokenmall.domain.mall.payments import Payment, PaymentStatus
from tokenmall.domain.mall.payouts import (
    BillKind,
    BillLine,
    Outcome,
    Payout,
    PayoutStatus,
    ReconLine,
    ReconReport,
)
from tokenmall.domain.mall.refunds import RefundStatus

payee_accounts = Table(
    "mall_payee_accounts",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("user_id", String(ID), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("account_masked", String(40), nullable=False),
    Column("sealed", LargeBinary, nullable=False),  # {"account", "real_name"} sealed
    at("updated_at"),
    PrimaryKeyConstraint("tenant_id", "user_id"),
    ForeignKeyConstraint(["tenant_id", "user_id"], ["mall_users.tenant_id", "mall_users.user_id"]),
)

payouts = Table(
    "mall_payouts",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("payout_id", String(ID), nullable=False),
    Column("withdrawal_id", String(ID), nullable=False),
    Column("user_id", String(ID), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("account_masked", String(40), nullable=True),
    Column("sealed", LargeBinary, nullable=True),  # the payee paid (None: a manual payout)
    Column("amount_fen", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("channel_ref", String(120), nullable=True),
    Column("reference", String(200), nullable=True),
    Column("reason", String(500), nullable=True),
    Column("attempts", Integer, nullable=False),
    at("created_at"),
    at("updated_at"),
    PrimaryKeyConstraint("tenant_id", "payout_id"),
    UniqueConstraint("tenant_id", "withdrawal_id", name="uq_mall_payouts_tenant_withdrawal"),
    ForeignKeyConstraint(
        ["tenant_id", "withdrawal_id"],
        ["mall_withdrawals.tenant_id", "mall_withdrawals.withdrawal_id"],
    ),
    CheckConstraint(one_of("status", values(PayoutStatus)), name="status"),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
    Index("ix_mall_payouts_tenant_status", "tenant_id", "status"),
)

reconciliations = Table(
    "mall_reconciliations",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("day", Date, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("matched", Integer, nullable=False),
    Column("missing_in_ledger", Integer, nullable=False),
    Column("missing_at_channel", Integer, nullable=False),
    Column("amount_differs", Integer, nullable=False),
    Column("bill_total_fen", BigInteger, nullable=False),
    Column("ledger_total_fen", BigInteger, nullable=False),
    at("run_at"),
    PrimaryKeyConstraint("tenant_id", "day", "channel"),
    ForeignKeyConstraint(["tenant_id"], ["mall_tenants.tenant_id"]),
)

reconciliation_lines = Table(
    "mall_reconciliation_lines",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("day", Date, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("reference", String(120), nullable=False),
    Column("outcome", String(24), nullable=False),
    Column("bill_fen", BigInteger, nullable=True),
    Column("ledger_fen", BigInteger, nullable=True),
    Column("channel_ref", String(120), nullable=True),
    PrimaryKeyConstraint("tenant_id", "day", "channel", "line_no"),
    ForeignKeyConstraint(
        ["tenant_id", "day", "channel"],
        [
            "mall_reconciliations.tenant_id",
            "mall_reconciliations.day",
            "mall_reconciliations.channel",
        ],
    ),
)

# The sandbox gateway's own record of the payments it approved and the refunds it answered:
# what its daily bill lists (a real channel's bill comes from the channel).
sandbox_transactions = Table(
    "sandbox_transactions",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("txn_id", String(120), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("reference", String(120), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    at("occurred_at"),
    PrimaryKeyConstraint("tenant_id", "txn_id"),
    Index("ix_sandbox_transactions_tenant_occurred_at", "tenant_id", "occurred_at"),
)


def _payout(row: Any) -> Payout:
    return record(Payout, row, utc=True, status=PayoutStatus(row.status))


def put_payee(
    conn: Connection,
    tenant_id: str,
    user_id: str,
    *,
    channel: str,
    account_masked: str,
    sealed: bytes,
    now: datetime,
) -> None:
    values_ = {"channel": channel, "account_masked": account_masked, "sealed": sealed}
    changed = conn.execute(
        update(payee_accounts)
        .where(payee_accounts.c.tenant_id == tenant_id, payee_accounts.c.user_id == user_id)
        .values(updated_at=now, **values_)
    ).rowcount
    if not changed:
        conn.execute(
            payee_accounts.insert().values(
                tenant_id=tenant_id, user_id=user_id, updated_at=now, **values_
            )
        )


def payee(
    conn: Connection, tenant_id: str, user_id: str
) -> tuple[str, str, bytes, datetime] | None:
    """(channel, masked account, sealed details, updated at) of the person's payee account."""
    row = conn.execute(
        select(payee_accounts).where(
            payee_accounts.c.tenant_id == tenant_id, payee_accounts.c.user_id == user_id
        )
    ).first()
    if row is None:
        return None
    return row.channel, row.account_masked, bytes(row.sealed), aware(row.updated_at)


def add_payout(conn: Connection, payout: Payout, sealed: bytes | None) -> None:
    row = {name: getattr(payout, name) for name in Payout.__dataclass_fields__}
    conn.execute(payouts.insert().values(sealed=sealed, **row))


def get_payout(
    conn: Connection, tenant_id: str, payout_id: str, *, for_update: bool = False
) -> Payout | None:
    query = select(payouts).where(
        payouts.c.tenant_id == tenant_id, payouts.c.payout_id == payout_id
    )
    if for_update and conn.engine.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    return None if row is None else _payout(row)


def sealed_payee(conn: Connection, tenant_id: str, payout_id: str) -> bytes | None:
    found = conn.execute(
        select(payouts.c.sealed).where(
            payouts.c.tenant_id == tenant_id, payouts.c.payout_id == payout_id
        )
    ).scalar()
    return None if found is None else bytes(found)


def payout_of_withdrawal(conn: Connection, tenant_id: str, withdrawal_id: str) -> Payout | None:
    row = conn.execute(
        select(payouts).where(
            payouts.c.tenant_id == tenant_id, payouts.c.withdrawal_id == withdrawal_id
        )
    ).first()
    return None if row is None else _payout(row)


def list_payouts(
    conn: Connection, tenant_id: str | None, *, status: str | None, limit: int
) -> list[Payout]:
    """Newest first; every tenant's when ``tenant_id`` is None (the scheduler's retries)."""
    query = select(payouts)
    if tenant_id is not None:
        query = query.where(payouts.c.tenant_id == tenant_id)
    if status is not None:
        query = query.where(payouts.c.status == status)
    query = query.order_by(payouts.c.created_at.desc(), payouts.c.payout_id.desc()).limit(limit)
    return [_payout(r) for r in conn.execute(query)]


def move_payout(
    conn: Connection,
    tenant_id: str,
    payout_id: str,
    *,
    source: PayoutStatus,
    status: PayoutStatus,
    channel_ref: str | None,
    reason: str | None,
    attempts: int,
    now: datetime,
) -> bool:
    changed = conn.execute(
        update(payouts)
        .where(
            payouts.c.tenant_id == tenant_id,
            payouts.c.payout_id == payout_id,
            payouts.c.status == source,
        )
        .values(
            status=status, channel_ref=channel_ref, reason=reason, attempts=attempts, updated_at=now
        )
    ).rowcount
    return bool(changed)


# -- the reconciliations ------------------------------------------------------------------------


def ledger_lines(
    conn: Connection, tenant_id: str, channel: str, start: datetime, end: datetime
) -> list[BillLine]:
    """The payments that succeeded through ``channel`` in [start, end) and the refunds of
    money through it decided in that window, as the shop booked them."""
    paid = conn.execute(
        select(payments.c.payment_id, payments.c.amount_fen, payments.c.provider_ref).where(
            payments.c.tenant_id == tenant_id,
            payments.c.gateway == channel,
            payments.c.status.in_((PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED)),
            payments.c.succeeded_at >= start,
            payments.c.succeeded_at < end,
        )
    ).all()
    refunded = conn.execute(
        select(refunds.c.refund_id, refunds.c.money_fen, refunds.c.provider_ref)
        .join(
            payments,
            (payments.c.tenant_id == refunds.c.tenant_id)
            & (payments.c.payment_id == refunds.c.payment_id),
        )
        .where(
            refunds.c.tenant_id == tenant_id,
            payments.c.gateway == channel,
            refunds.c.status == RefundStatus.SUCCEEDED,
            refunds.c.money_fen > 0,
            refunds.c.decided_at >= start,
            refunds.c.decided_at < end,
        )
    ).all()
    return [BillLine(BillKind.PAYMENT, r[0], int(r[1]), r[2]) for r in paid] + [
        BillLine(BillKind.REFUND, r[0], int(r[1]), r[2]) for r in refunded
    ]


def put_report(conn: Connection, report: ReconReport, lines: list[ReconLine]) -> None:
    """Store a day's report, replacing an earlier run's."""
    key = {"tenant_id": report.tenant_id, "day": report.day, "channel": report.channel}
    conn.execute(
        delete(reconciliation_lines).where(
            *(reconciliation_lines.c[k] == v for k, v in key.items())
        )
    )
    conn.execute(
        delete(reconciliations).where(*(reconciliations.c[k] == v for k, v in key.items()))
    )
    row = {name: getattr(report, name) for name in ReconReport.__dataclass_fields__}
    conn.execute(reconciliations.insert().values(**row))
    if lines:
        conn.execute(
            reconciliation_lines.insert(),
            [
                {
                    **key,
                    "line_no": n,
                    **{f: getattr(line, f) for f in ReconLine.__dataclass_fields__},
                }
                for n, line in enumerate(lines, 1)
            ],
        )


def _report(row: Any) -> ReconReport:
    return record(ReconReport, row, utc=True)


def reports(conn: Connection, tenant_id: str, *, day: date | None, limit: int) -> list[ReconReport]:
    """Newest day first."""
    query = select(reconciliations).where(reconciliations.c.tenant_id == tenant_id)
    if day is not None:
        query = query.where(reconciliations.c.day == day)
    query = query.order_by(reconciliations.c.day.desc(), reconciliations.c.channel).limit(limit)
    return [_report(r) for r in conn.execute(query)]


def report_lines(conn: Connection, tenant_id: str, day: date, channel: str) -> list[ReconLine]:
    query = (
        select(reconciliation_lines)
        .where(
            reconciliation_lines.c.tenant_id == tenant_id,
            reconciliation_lines.c.day == day,
            reconciliation_lines.c.channel == channel,
        )
        .order_by(reconciliation_lines.c.line_no)
    )
    return [
        record(ReconLine, r, kind=BillKind(r.kind), outcome=Outcome(r.outcome))
        for r in conn.execute(query)
    ]


# The payment and its order's status and, if it can still be paid, the sandbox's record of its
# approval, in one statement (PostgreSQL: a CTE; the insert sees the read's snapshot).
# Fixed text on the driver's cursor: SQLAlchemy's handling cost more than the round trip.
_PG_APPROVE_PAYABLE = """
    WITH found AS (
        SELECT p.*, o.status AS order_status
        FROM mall_payments AS p
        JOIN mall_orders AS o ON o.tenant_id = p.tenant_id AND o.order_id = p.order_id
        WHERE p.tenant_id = %(tenant_id)s AND p.payment_id = %(payment_id)s
    ), approved AS (
        INSERT INTO sandbox_transactions
            (tenant_id, txn_id, kind, reference, amount_fen, occurred_at)
        SELECT tenant_id, 'sbx_' || payment_id, %(kind)s, payment_id, amount_fen, %(now)s
        FROM found
        WHERE provider_ref = %(ref)s AND status = ANY(%(open)s)
            AND order_status = %(order_status)s
        ON CONFLICT DO NOTHING
    )
    SELECT * FROM found
    """


def approve_payable(
    conn: Connection,
    tenant_id: str,
    payment_id: str,
    ref: str,
    open_statuses: Sequence[str],
    order_status: str,
    now: datetime,
) -> tuple[Payment, str] | None:
    """The sandbox's page approves the payment ``ref``: the payment and its order's status
    (None if there is no such payment), and, if its reference is ``ref``, it is in
    ``open_statuses`` and its order in ``order_status``, the approval kept for the sandbox's
    bill (once per payment, as ``record_approval``), in ``conn``'s transaction; on PostgreSQL
    in one statement."""
    if conn.dialect.name == "postgresql":
        params = {
            "tenant_id": tenant_id,
            "payment_id": payment_id,
            "ref": ref,
            "open": [str(status) for status in open_statuses],
            "order_status": str(order_status),
            "kind": str(BillKind.PAYMENT),
            "now": now,
        }
        found_rows = fast.fetch(conn, _PG_APPROVE_PAYABLE, params)
        return None if not found_rows else (payment_of(found_rows[0]), found_rows[0].order_status)
    found = payment_and_order_status(conn, tenant_id, payment_id)
    if found is None:
        return None
    payment, status = found
    if payment.provider_ref == ref and payment.status in open_statuses and status == order_status:
        approval = approval_row(tenant_id, payment_id, payment.amount_fen, now)
        conn.execute(sqlite_insert(sandbox_transactions).values(approval).on_conflict_do_nothing())
    return found


def approval_row(tenant_id: str, payment_id: str, amount_fen: int, now: datetime) -> dict[str, Any]:
    """The sandbox's record of its approval of a payment (one a payment: ``sbx_<payment>``)."""
    return {
        "tenant_id": tenant_id,
        "txn_id": f"sbx_{payment_id}",
        "kind": BillKind.PAYMENT,
        "reference": payment_id,
        "amount_fen": amount_fen,
        "occurred_at": now,
    }
