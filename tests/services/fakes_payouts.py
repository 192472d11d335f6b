"""The in-memory payouts repository of the fake unit of work (``fakes.py``): payee accounts,
payouts, and reconciliation reports (the ledger's side of a bill is set by the test)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime

from tokenmall.domain.mall.payouts import BillLine, Payout, PayoutStatus, ReconLine, ReconReport


@dataclass
class FakePayoutBook:
    payees: dict[tuple[str, str], tuple[str, str, bytes, datetime]] = field(default_factory=dict)
    rows: dict[tuple[str, str], Payout] = field(default_factory=dict)
    sealed_of: dict[tuple[str, str], bytes | None] = field(default_factory=dict)
    booked: dict[tuple[str, str], list[tuple[datetime, BillLine]]] = field(default_factory=dict)
    saved: dict[tuple[str, date, str], tuple[ReconReport, list[ReconLine]]] = field(
        default_factory=dict
    )

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
        self.payees[(tenant_id, user_id)] = (channel, account_masked, sealed, now)

    def payee(self, tenant_id: str, user_id: str) -> tuple[str, str, bytes, datetime] | None:
        return self.payees.get((tenant_id, user_id))

    def add(self, payout: Payout, sealed: bytes | None) -> bool:
        if any(
            p.tenant_id == payout.tenant_id and p.withdrawal_id == payout.withdrawal_id
            for p in self.rows.values()
        ):
            return False
        self.rows[(payout.tenant_id, payout.payout_id)] = payout
        self.sealed_of[(payout.tenant_id, payout.payout_id)] = sealed
        return True

    def get(self, tenant_id: str, payout_id: str, *, for_update: bool = False) -> Payout | None:
        return self.rows.get((tenant_id, payout_id))

    def sealed(self, tenant_id: str, payout_id: str) -> bytes | None:
        return self.sealed_of.get((tenant_id, payout_id))

    def of_withdrawal(self, tenant_id: str, withdrawal_id: str) -> Payout | None:
        for p in self.rows.values():
            if p.tenant_id == tenant_id and p.withdrawal_id == withdrawal_id:
                return p
        return None

    def list_payouts(
        self, tenant_id: str | None, *, status: str | None, limit: int
    ) -> list[Payout]:
        found = [
            p
            for p in self.rows.values()
            if (tenant_id is None or p.tenant_id == tenant_id)
            and (status is None or p.status == status)
        ]
        found.sort(key=lambda p: (p.created_at, p.payout_id), reverse=True)
        return found[:limit]

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
        found = self.rows.get((tenant_id, payout_id))
        if found is None or found.status != source:
            return False
        self.rows[(tenant_id, payout_id)] = replace(
            found,
            status=status,
            channel_ref=channel_ref,
            reason=reason,
            attempts=attempts,
            updated_at=now,
        )
        return True

    def ledger_lines(
        self, tenant_id: str, channel: str, start: datetime, end: datetime
    ) -> list[BillLine]:
        return [line for at, line in self.booked.get((tenant_id, channel), []) if start <= at < end]

    def put_report(self, report: ReconReport, lines: list[ReconLine]) -> None:
        self.saved[(report.tenant_id, report.day, report.channel)] = (report, list(lines))

    def reports(self, tenant_id: str, *, day: date | None, limit: int) -> list[ReconReport]:
        found = [
            r
            for (t, d, _), (r, _) in self.saved.items()
            if t == tenant_id and (day is None or d == day)
        ]
        found.sort(key=lambda r: (-r.day.toordinal(), r.channel))
        return found[:limit]

    def report_lines(self, tenant_id: str, day: date, channel: str) -> list[ReconLine]:
        return list(self.saved.get((tenant_id, day, channel), (None, []))[1])
