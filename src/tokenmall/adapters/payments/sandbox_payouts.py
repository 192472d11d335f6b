"""The sandbox's payouts and daily bills: a stand-in for a channel's transfers and bills.

``SandboxPayouts`` decides a transfer from its payee alone, so it is deterministic and a retry
with the same payout id answers the same: an account containing "fail" is refused, one
containing "slow" stays processing, any other is paid.

``SandboxBills`` builds a day's bill from the sandbox's own record (``sandbox_transactions``):
the payments approved on its payment page, orders' and drop reservations' (``approve_payable``
of ``adapters/db/mall/payouts.py`` in the page's read of an order's payment, ``record_approval``
for a reservation's, before the page notifies the shop). The sandbox answers refunds at once
(``SandboxGateway.refund``, inside the shop's transaction, where it cannot write a record of its
own), so its bill's refunds are the refunds the shop holds its answer for (``sbxr_<refund id>``)
and the drop's money that came after its reservation expired (``rfd_<reservation>``).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from tokenmall.adapters.db.engine import execute_alone
from tokenmall.adapters.db.mall.payouts import approval_row, sandbox_transactions
from tokenmall.adapters.db.mall.refunds import refunds
from tokenmall.adapters.db.nfg.tables import nfg_reservations
from tokenmall.adapters.payments.sandbox import SANDBOX, parse_sandbox_ref
from tokenmall.domain.mall.payouts import BillKind, BillLine, PayoutResult, PayoutStatus
from tokenmall.domain.mall.refunds import RefundStatus
from tokenmall.domain.nfg.records import ReservationStatus


class SandboxPayouts:
    """Transfers decided by the payee's account (see the module's docstring)."""

    def transfer(
        self,
        *,
        payout_id: str,
        amount_fen: int,
        channel: str,
        payee_account: str,
        payee_real_name: str,
        remark: str,
    ) -> PayoutResult:
        account = payee_account.casefold()
        if "fail" in account:
            return PayoutResult(
                PayoutStatus.FAILED, reason="sandbox: the payee's account refused the transfer"
            )
        if "slow" in account:
            return PayoutResult(PayoutStatus.PROCESSING, channel_ref=f"sbxp_{payout_id}")
        return PayoutResult(PayoutStatus.SUCCEEDED, channel_ref=f"sbxp_{payout_id}")


def day_window(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The business day in ``tz`` as [start, end) in UTC (how every time is stored)."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def record_approval(engine: Engine, provider_ref: str, amount_fen: int, now: datetime) -> None:
    """The sandbox approved the payment ``provider_ref`` on its page: keep it for its bill
    (once per payment)."""
    found = parse_sandbox_ref(provider_ref)
    if found is None:
        return
    tenant_id, payment_id = found
    row = sandbox_transactions.insert().values(approval_row(tenant_id, payment_id, amount_fen, now))
    with suppress(IntegrityError):  # approved before: the first approval is on the bill
        execute_alone(engine, row)


class SandboxBills:
    """One tenant's sandbox bill (see the module's docstring)."""

    def __init__(self, engine: Engine, tenant_id: str, tz: tzinfo) -> None:
        self.engine = engine
        self.tenant_id = tenant_id
        self.tz = tz

    def download_bill(self, *, channel: str, day: date) -> list[BillLine]:
        start, end = day_window(day, self.tz)
        t = sandbox_transactions.c
        r = refunds.c
        n = nfg_reservations.c
        with self.engine.connect() as conn:
            paid = conn.execute(
                select(t.reference, t.amount_fen, t.txn_id).where(
                    t.tenant_id == self.tenant_id,
                    t.kind == BillKind.PAYMENT,
                    t.occurred_at >= start,
                    t.occurred_at < end,
                )
            ).all()
            refunded = conn.execute(
                select(r.refund_id, r.money_fen, r.provider_ref).where(
                    r.tenant_id == self.tenant_id,
                    r.status == RefundStatus.SUCCEEDED,
                    r.money_fen > 0,
                    r.provider_ref == "sbxr_" + r.refund_id,
                    r.decided_at >= start,
                    r.decided_at < end,
                )
            ).all()
            # A drop's money that came after its reservation expired, given straight back.
            late = conn.execute(
                select(n.reservation_id, n.amount)
                .join(
                    sandbox_transactions,
                    (t.tenant_id == n.tenant_id) & (t.reference == n.payment_id),
                )
                .where(
                    n.tenant_id == self.tenant_id,
                    t.kind == BillKind.PAYMENT,
                    n.status == ReservationStatus.REFUNDED,
                    n.closed_at >= start,
                    n.closed_at < end,
                )
            ).all()
        return (
            [BillLine(BillKind.PAYMENT, x[0], int(x[1]), x[2]) for x in paid]
            + [BillLine(BillKind.REFUND, x[0], int(x[1]), x[2]) for x in refunded]
            + [BillLine(BillKind.REFUND, "rfd_" + x[0].split("_", 1)[1], int(x[1])) for x in late]
        )


class SandboxBillSources:
    """Every tenant reconciles the sandbox (the one channel until real ones are configured)."""

    def __init__(self, engine: Engine, tz: tzinfo) -> None:
        self.engine = engine
        self.tz = tz

    def of(self, tenant_id: str) -> Mapping[str, SandboxBills]:
        return {SANDBOX: SandboxBills(self.engine, tenant_id, self.tz)}
