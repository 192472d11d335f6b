"""The payouts' ports: the unit of work's ``payouts`` repository (payee accounts, payouts,
reconciliation reports and the ledger's side of a bill; SQL in ``adapters/db/uow_payouts.py``,
fake in ``tests/services/fakes_payouts.py``) and the two channel ports a payment channel
implements: ``Payouts`` (a transfer to a person's account) and ``Bills`` (its daily bill).
The sandbox's implementations are in ``adapters/payments/sandbox_payouts.py``, wired in
``bootstrap.py``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Protocol

from tokenmall.domain.mall.payouts import (
    BillLine,
    Payout,
    PayoutResult,
    PayoutStatus,
    ReconLine,
    ReconReport,
)


class PayoutBook(Protocol):
    def put_payee(
        self,
        tenant_id: str,
        user_id: str,
        *,
        channel: str,
        account_masked: str,
        sealed: bytes,
        now: datetime,
    ) -> None: ...

    def payee(self, tenant_id: str, user_id: str) -> tuple[str, str, bytes, datetime] | None:
        """(channel, masked account, sealed details, updated at), or None."""

    def add(self, payout: Payout, sealed: bytes | None) -> bool:
        """False when the withdrawal already has its payout."""

    def get(self, tenant_id: str, payout_id: str, *, for_update: bool = ...) -> Payout | None:
        """The payout (locked for the unit's transaction with ``for_update``)."""

    def sealed(self, tenant_id: str, payout_id: str) -> bytes | None:
        """The sealed payee a payout pays."""

    def of_withdrawal(self, tenant_id: str, withdrawal_id: str) -> Payout | None: ...

    def list_payouts(
        self, tenant_id: str | None, *, status: str | None, limit: int
    ) -> list[Payout]:
        """Newest first; every tenant's with ``tenant_id`` None."""

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
        """False when the payout was not in ``source`` any more."""

    def ledger_lines(
        self, tenant_id: str, channel: str, start: datetime, end: datetime
    ) -> list[BillLine]:
        """The payments and refunds the shop booked through ``channel`` in [start, end)."""

    def put_report(self, report: ReconReport, lines: list[ReconLine]) -> None: ...

    def reports(self, tenant_id: str, *, day: date | None, limit: int) -> list[ReconReport]:
        """Newest day first."""

    def report_lines(self, tenant_id: str, day: date, channel: str) -> list[ReconLine]: ...


class Payouts(Protocol):
    """A channel's transfer to a person's account (WeChat Pay's 商家转账到零钱, Alipay's
    单笔转账). ``payout_id`` is the channel's idempotency key: sending it again answers the
    first transfer's state and never pays twice."""

    def transfer(
        self,
        *,
        payout_id: str,
        amount_fen: int,
        channel: str,
        payee_account: str,
        payee_real_name: str,
        remark: str,
    ) -> PayoutResult: ...


class PayoutChannels(Protocol):
    """Each tenant's ways to pay out: through the channel of the payee's account when the
    tenant has it on (its own merchant account), else the sandbox while the tenant has it."""

    def payable(self, tenant_id: str) -> frozenset[str]:
        """The payee channels the tenant can pay out through now (empty: payouts are manual)."""

    def of(
        self, tenant_id: str, channel: str, *, channel_ref: str | None, retry: bool
    ) -> Payouts | None:
        """The transfer a payout to a ``channel`` account goes through (None: none now).
        ``channel_ref``: what the channel answered before; ``retry``: the payout was sent
        before, so the channel that took it is asked even if it was switched off since."""


class Bills(Protocol):
    """A channel's bill of one day (the tenant's business day): its payments and refunds."""

    def download_bill(self, *, channel: str, day: date) -> list[BillLine]: ...


class BillSources(Protocol):
    """Each tenant's channels to reconcile, with the bill of each."""

    def of(self, tenant_id: str) -> Mapping[str, Bills]: ...
