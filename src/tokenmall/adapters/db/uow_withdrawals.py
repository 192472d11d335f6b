"""The withdrawals' repositories of the SQL unit of work: requests, approvals, the tenant's
rules, and the audit trail (``adapters/db/uow.py`` binds them to the unit's transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from tokenmall.adapters.db.mall import access as audit_repo
from tokenmall.adapters.db.mall import withdrawals as withdrawals_repo
from tokenmall.domain.mall.access import AuditEntry
from tokenmall.domain.mall.withdrawals import Settings, Withdrawal, WithdrawalStatus


class SqlWithdrawals:
    """The withdrawals repository: requests, their approvals and the tenant's rules."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def settings(self, tenant_id: str) -> Settings:
        return withdrawals_repo.get_settings(self.conn, tenant_id)

    def put_settings(self, tenant_id: str, settings: Settings) -> None:
        withdrawals_repo.put_settings(self.conn, tenant_id, settings)

    def add(self, withdrawal: Withdrawal) -> None:
        withdrawals_repo.add(
            self.conn,
            withdrawal.tenant_id,
            {
                "withdrawal_id": withdrawal.withdrawal_id,
                "user_id": withdrawal.user_id,
                "amount_fen": withdrawal.amount_fen,
                "debt_repaid_fen": withdrawal.debt_repaid_fen,
                "status": withdrawal.status,
                "approvals_required": withdrawal.approvals_required,
                "created_at": withdrawal.created_at,
                "merchant_id": withdrawal.merchant_id,
            },
        )

    def get(
        self, tenant_id: str, withdrawal_id: str, *, for_update: bool = False
    ) -> Withdrawal | None:
        return withdrawals_repo.get(self.conn, tenant_id, withdrawal_id, for_update=for_update)

    def list(
        self,
        tenant_id: str,
        *,
        user_id: str | None,
        status: str | None,
        after: str | None,
        limit: int,
    ) -> list[Withdrawal]:
        return withdrawals_repo.list_withdrawals(
            self.conn, tenant_id, user_id=user_id, status=status, after=after, limit=limit
        )

    def add_approval(
        self, tenant_id: str, withdrawal_id: str, admin_id: str, now: datetime
    ) -> bool:
        try:
            with self.conn.begin_nested():
                withdrawals_repo.add_approval(self.conn, tenant_id, withdrawal_id, admin_id, now)
        except IntegrityError:
            return False
        return True

    def require_approvals(self, tenant_id: str, withdrawal_id: str, count: int) -> None:
        withdrawals_repo.require_approvals(self.conn, tenant_id, withdrawal_id, count)

    def decide(
        self,
        tenant_id: str,
        withdrawal_id: str,
        *,
        status: WithdrawalStatus,
        decided_by: str,
        reason: str | None,
        decided_at: datetime,
        source: WithdrawalStatus = WithdrawalStatus.PENDING,
    ) -> bool:
        return withdrawals_repo.decide(
            self.conn,
            tenant_id,
            withdrawal_id,
            source,
            status=status,
            decided_by=decided_by,
            reason=reason,
            decided_at=decided_at,
        )


class SqlAuditTrail:
    """The audit trail: entries added in the unit's transaction, and read back."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, tenant_id: str, entry: AuditEntry) -> None:
        audit_repo.add_entry(self.conn, tenant_id, entry)

    def about(
        self, tenant_id: str, subject_ids: Sequence[str], actions: tuple[str, ...]
    ) -> list[AuditEntry]:
        return audit_repo.subjects_entries(self.conn, tenant_id, list(subject_ids), actions)

    def since(self, tenant_id: str, actions: tuple[str, ...], since: datetime) -> list[AuditEntry]:
        return audit_repo.entries(self.conn, tenant_id, actions=actions, since=since)
