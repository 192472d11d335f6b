"""Payee accounts, withdrawals' payouts and the daily reconciliations' reports."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from tokenmall import bootstrap
from tokenmall.domain.mall.payouts import Payout, ReconLine, ReconReport
from tokenmall.domain.money import format_money
from tokenmall.services.mall import payouts, reconciliation
from tokenmall.services.mall.errors import NotFound
from tokenmall.services.mall.settling import parse_date
from tokenmall.services.mall.uow import Database, MallUnitOfWork, utc_now
from tokenmall.web.api.common import ResourceId, TenantId, write
from tokenmall.web.api.kyc import sealer
from tokenmall.web.api.payment_channels import registry_of
from tokenmall.web.api.schemas import Request as Body
from tokenmall.web.api.schemas import Response as Out
from tokenmall.web.deps import Caller, Db, IdempotencyKey, single_query_values
from tokenmall.web.errors import COMMON, responses

log = logging.getLogger("tokenmall.payouts")

router = APIRouter(
    prefix="/api/v1/tenants/{tenant_id}",
    tags=["payouts"],
    dependencies=[Depends(single_query_values)],
)


class PayeeIn(Body):
    channel: Literal["wechat", "alipay"]
    account: Annotated[str, Field(max_length=200, description="WeChat openid / Alipay login")]
    real_name: Annotated[str, Field(max_length=60, description="As verified by real-name KYC")]


class PayeeOut(Out):
    channel: str
    account_masked: str
    updated_at: datetime

    @classmethod
    def of(cls, p: payouts.Payee) -> PayeeOut:
        return cls(channel=p.channel, account_masked=p.account_masked, updated_at=p.updated_at)


class PayoutOut(Out):
    payout_id: str
    withdrawal_id: str
    user_id: str
    channel: str
    account_masked: str | None
    amount: str
    status: str
    channel_ref: str | None
    reference: str | None
    reason: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, p: Payout) -> PayoutOut:
        return cls(
            payout_id=p.payout_id,
            withdrawal_id=p.withdrawal_id,
            user_id=p.user_id,
            channel=p.channel,
            account_masked=p.account_masked,
            amount=format_money(p.amount_fen),
            status=p.status,
            channel_ref=p.channel_ref,
            reference=p.reference,
            reason=p.reason,
            attempts=p.attempts,
            created_at=p.created_at,
            updated_at=p.updated_at,
        )


class PayoutPage(Out):
    items: list[PayoutOut]


class ReconLineOut(Out):
    kind: str
    reference: str
    outcome: str
    bill_amount: str | None
    ledger_amount: str | None
    channel_ref: str | None

    @classmethod
    def of(cls, line: ReconLine) -> ReconLineOut:
        return cls(
            kind=line.kind,
            reference=line.reference,
            outcome=line.outcome,
            bill_amount=None if line.bill_fen is None else format_money(line.bill_fen),
            ledger_amount=None if line.ledger_fen is None else format_money(line.ledger_fen),
            channel_ref=line.channel_ref,
        )


class ReconOut(Out):
    day: date
    channel: str
    matched: int
    missing_in_ledger: int
    missing_at_channel: int
    amount_differs: int
    bill_total: str
    ledger_total: str
    run_at: datetime
    lines: list[ReconLineOut] | None = None

    @classmethod
    def of(cls, r: ReconReport, lines: list[ReconLine] | None = None) -> ReconOut:
        return cls(
            day=r.day,
            channel=r.channel,
            matched=r.matched,
            missing_in_ledger=r.missing_in_ledger,
            missing_at_channel=r.missing_at_channel,
            amount_differs=r.amount_differs,
            bill_total=format_money(r.bill_total_fen),
            ledger_total=format_money(r.ledger_total_fen),
            run_at=r.run_at,
            lines=None if lines is None else [ReconLineOut.of(x) for x in lines],
        )


class ReconPage(Out):
    items: list[ReconOut]


def send_payout(request: Request, db: Database, tenant_id: str, payout_id: str) -> None:
    """Send a payout just made through the configured channel (the scheduler retries one that
    is still processing)."""
    channels = bootstrap.payout_channel(db, registry_of(request))
    try:
        payouts.send(db, channels, sealer(request), tenant_id, payout_id, utc_now())
    except NotFound:  # the approval's transaction lost a race: no payout was made
        pass
    except Exception:  # the approval stands; the scheduler sends the payout again
        log.exception("payout %s: sending failed; the scheduler retries it", payout_id)


def through_channel(request: Request, db: Database, tenant_id: str) -> frozenset[str]:
    """The payee channels the tenant pays withdrawals out through (none: paid manually)."""
    return bootstrap.payout_channel(db, registry_of(request)).payable(tenant_id)


@router.put(
    "/payee-account",
    response_model=PayeeOut,
    summary="Register the caller's payee account for withdrawals (real name as verified)",
    responses=responses(*COMMON, 403),
)
def put_payee(
    tenant_id: TenantId,
    payload: PayeeIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    seal = sealer(request)

    def make(conn: Connection) -> BaseModel:
        uow = MallUnitOfWork.joining(conn)
        found = payouts.register_payee(
            uow,
            seal,
            caller,
            tenant_id,
            channel=payload.channel,
            account=payload.account,
            real_name=payload.real_name,
            now=utc_now(),
        )
        return PayeeOut.of(found)

    return write(request, db, caller, tenant_id, key, payload, make)


@router.get(
    "/payee-account",
    response_model=PayeeOut,
    summary="The caller's payee account (masked)",
    responses=responses(*COMMON),
)
def get_payee(tenant_id: TenantId, caller: Caller, db: Db) -> PayeeOut:
    with db.reading() as uow:
        found = payouts.my_payee(uow, caller, tenant_id)
    if found is None:
        raise NotFound("no payee account registered", "payee_account")
    return PayeeOut.of(found)


@router.get(
    "/payouts",
    response_model=PayoutPage,
    summary="Withdrawals' payouts, newest first (admins)",
    responses=responses(*COMMON, 403),
)
def list_payouts(
    tenant_id: TenantId,
    caller: Caller,
    db: Db,
    status: Literal["processing", "succeeded", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PayoutPage:
    with db.reading() as uow:
        found = payouts.list_payouts(uow, caller, tenant_id, status=status, limit=limit)
    return PayoutPage(items=[PayoutOut.of(p) for p in found])


@router.get(
    "/payouts/{payout_id}",
    response_model=PayoutOut,
    summary="One payout (admins)",
    responses=responses(*COMMON, 403),
)
def get_payout(tenant_id: TenantId, payout_id: ResourceId, caller: Caller, db: Db) -> PayoutOut:
    with db.reading() as uow:
        return PayoutOut.of(payouts.get_payout(uow, caller, tenant_id, payout_id))


@router.get(
    "/reconciliations",
    response_model=ReconPage,
    summary="The daily reconciliations' reports, newest day first (admins)",
    responses=responses(*COMMON, 403),
)
def list_reconciliations(tenant_id: TenantId, caller: Caller, db: Db) -> ReconPage:
    with db.reading() as uow:
        found = reconciliation.reports(uow, caller, tenant_id)
    return ReconPage(items=[ReconOut.of(r) for r in found])


@router.get(
    "/reconciliations/{day}",
    response_model=ReconPage,
    summary="A day's reconciliation of each channel with its lines, mismatches first (admins)",
    responses=responses(*COMMON, 403),
)
def day_reconciliation(
    tenant_id: TenantId, day: Annotated[str, Path(max_length=10)], caller: Caller, db: Db
) -> ReconPage:
    when = parse_date(day, "day")
    with db.reading() as uow:
        found = reconciliation.day_reports(uow, caller, tenant_id, when)
    return ReconPage(items=[ReconOut.of(r.report, r.lines) for r in found])
