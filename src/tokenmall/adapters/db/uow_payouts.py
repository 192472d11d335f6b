"""The payouts' repository of the SQL unit of work: payee accounts, payouts, and the daily
reconciliations' reports with the ledger's side of a bill (``adapters/db/uow.py`` binds it)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from tokenmall.adapters.db.mall import payouts as repo
from tokenmall.adapters.db.nfg import drop
from tokenmall.domain.mall.payouts import BillLine, Payout, PayoutStatus, ReconLine, ReconReport


class SqlPayoutBook:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def put_payee(
        self,
        tenant_id: str,
        user_id: str,
        *,
        channel: str,
        account_masked: str,
        sealed: bytes,
        now: datetime,
    ) -> None:
        repo.put_payee(
            self.conn,
            tenant_id,
            user_id,
            channel=channel,
            account_masked=account_masked,
            sealed=sealed,
            now=now,
        )

    def payee(self, tenant_id: str, user_id: str) -> tuple[str, str, bytes, datetime] | None:
        return repo.payee(self.conn, tenant_id, user_id)

    def add(self, payout: Payout, sealed: bytes | None) -> bool:
        """False when the withdrawal already has its payout (a retry or a race)."""
        try:
            with self.conn.begin_nested():
                repo.add_payout(self.conn, payout, sealed)
        except IntegrityError:
            return False
        return True

    def get(self, tenant_id: str, payout_id: str, *, for_update: bool = False) -> Payout | None:
        return repo.get_payout(self.conn, tenant_id, payout_id, for_update=for_update)

    def sealed(self, tenant_id: str, payout_id: str) -> bytes | None:
        return repo.sealed_payee(self.conn, tenant_id, payout_id)

    def of_withdrawal(self, tenant_id: str, withdrawal_id: str) -> Payout | None:
        return repo.payout_of_withdrawal(self.conn, tenant_id, withdrawal_id)

    def list_payouts(
        self, tenant_id: str | None, *, status: str | None, limit: int
    ) -> list[Payout]:
        return repo.list_payouts(self.conn, tenant_id, status=status, limit=limit)

    def move(
        self,
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
        return repo.move_payout(
            self.conn,
            tenant_id,
            payout_id,
            source=source,
            status=status,
            channel_ref=channel_ref,
            reason=reason,
            attempts=attempts,
            now=now,
        )

    def ledger_lines(
        self, tenant_id: str, channel: str, start: datetime, end: datetime
    ) -> list[BillLine]:
        return repo.ledger_lines(self.conn, tenant_id, channel, start, end) + drop.bill_lines(
            self.conn, tenant_id, channel, start, end
        )

    def put_report(self, report: ReconReport, lines: list[ReconLine]) -> None:
        repo.put_report(self.conn, report, lines)

    def reports(self, tenant_id: str, *, day: date | None, limit: int) -> list[ReconReport]:
        return repo.reports(self.conn, tenant_id, day=day, limit=limit)

    def report_lines(self, tenant_id: str, day: date, channel: str) -> list[ReconLine]:
        return repo.report_lines(self.conn, tenant_id, day, channel)
