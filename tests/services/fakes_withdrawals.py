"""The in-memory withdrawals, audit trail and cash of the fake unit of work (``fakes.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from tokenmall.domain.ledger import commands as c
from tokenmall.domain.mall.access import AuditEntry
from tokenmall.domain.mall.withdrawals import (
    DEFAULT_SETTINGS,
    Settings,
    Withdrawal,
    WithdrawalStatus,
)


@dataclass
class FakeWithdrawals:
    rules: dict[str, Settings] = field(default_factory=dict)
    rows: dict[tuple[str, str], Withdrawal] = field(default_factory=dict)

    def settings(self, tenant_id: str) -> Settings:
        return self.rules.get(tenant_id, DEFAULT_SETTINGS)

    def put_settings(self, tenant_id: str, settings: Settings) -> None:
        self.rules[tenant_id] = settings

    def add(self, withdrawal: Withdrawal) -> None:
        where = (withdrawal.tenant_id, withdrawal.withdrawal_id)
        assert where not in self.rows, "a withdrawal is added once"
        self.rows[where] = withdrawal

    def get(
        self, tenant_id: str, withdrawal_id: str, *, for_update: bool = False
    ) -> Withdrawal | None:
        return self.rows.get((tenant_id, withdrawal_id))

    def list(
        self,
        tenant_id: str,
        *,
        user_id: str | None,
        status: str | None,
        after: str | None,
        limit: int,
    ) -> list[Withdrawal]:
        found = sorted(
            (
                w
                for (tenant, _), w in self.rows.items()
                if tenant == tenant_id
                and (user_id is None or w.user_id == user_id)
                and (status is None or w.status == status)
                and (after is None or w.withdrawal_id > after)
            ),
            key=lambda w: w.withdrawal_id,
        )
        return found[:limit]

    def add_approval(
        self, tenant_id: str, withdrawal_id: str, admin_id: str, now: datetime
    ) -> bool:
        found = self.rows[(tenant_id, withdrawal_id)]
        if admin_id in found.approved_by:
            return False
        self.rows[(tenant_id, withdrawal_id)] = replace(
            found, approved_by=(*found.approved_by, admin_id)
        )
        return True

    def require_approvals(self, tenant_id: str, withdrawal_id: str, count: int) -> None:
        found = self.rows[(tenant_id, withdrawal_id)]
        if found.approvals_required < count:
            self.rows[(tenant_id, withdrawal_id)] = replace(found, approvals_required=count)

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
        found = self.rows.get((tenant_id, withdrawal_id))
        if found is None or found.status != source:
            return False
        self.rows[(tenant_id, withdrawal_id)] = replace(
            found, status=status, decided_by=decided_by, reason=reason, decided_at=decided_at
        )
        return True


@dataclass
class FakeAuditTrail:
    entries: list[tuple[str, AuditEntry]] = field(default_factory=list)

    def add(self, tenant_id: str, entry: AuditEntry) -> None:
        self.entries.append((tenant_id, entry))

    def about(
        self, tenant_id: str, subject_ids: Sequence[str], actions: tuple[str, ...]
    ) -> list[AuditEntry]:
        return [
            e
            for t, e in self.entries
            if t == tenant_id and e.subject_id in subject_ids and e.action in actions
        ]

    def since(self, tenant_id: str, actions: tuple[str, ...], since: datetime) -> list[AuditEntry]:
        found = [e for t, e in self.entries if t == tenant_id and e.action in actions]
        return [e for e in reversed(found) if e.at >= since]


@dataclass
class FakeCash:
    """Members' cash, debts and withdrawals' holds as plain integers of fen; the ledger
    commands it was given, in order."""

    cash: dict[tuple[str, str], int] = field(default_factory=dict)
    debts: dict[tuple[str, str], int] = field(default_factory=dict)
    held: dict[tuple[str, str], int] = field(default_factory=dict)
    paid_out: dict[tuple[str, str], int] = field(default_factory=dict)
    commands: list[c.Command] = field(default_factory=list)
    locks: int = 0

    def lock_tenant(self, tenant_id: str) -> None:
        self.locks += 1

    def cash_of(self, tenant_id: str, user_id: str) -> int:
        return self.cash.get((tenant_id, user_id), 0)

    def debt_of(self, tenant_id: str, user_id: str) -> int:
        return self.debts.get((tenant_id, user_id), 0)

    def _move(self, book: dict[tuple[str, str], int], where: tuple[str, str], fen: int) -> None:
        book[where] = book.get(where, 0) + fen
        assert book[where] >= 0, "no balance goes below zero"

    def repay_debt(self, command: c.RepayDebt, now: datetime) -> None:
        where = (command.tenant_id, command.user)
        self._move(self.cash, where, -command.amount_fen)
        self._move(self.debts, where, -command.amount_fen)
        self.commands.append(command)

    def post(self, command: c.Command) -> None:
        assert isinstance(command, (c.HoldWithdrawal, c.PayWithdrawal, c.ReleaseWithdrawal))
        where = (command.tenant_id, command.user)
        fen = command.amount_fen
        if isinstance(command, c.HoldWithdrawal):
            self._move(self.cash, where, -fen)
            self._move(self.held, where, fen)
        elif isinstance(command, c.PayWithdrawal):
            self._move(self.held, where, -fen)
            self._move(self.paid_out, where, fen)
        else:
            self._move(self.held, where, -fen)
            self._move(self.cash, where, fen)
        self.commands.append(command)
