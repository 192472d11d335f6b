"""Withdrawals of cash balances with admin approval, and each tenant's withdrawal settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from tokenmall.services.mall import payouts, withdrawals
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.web.api.common import After, Limit, ResourceId, TenantId, next_after, write
from tokenmall.web.api.payouts import send_payout, through_channel
from tokenmall.web.api.schemas import Request as Body
from tokenmall.web.api.schemas_wallet import (
    RejectIn,
    WithdrawalIn,
    WithdrawalOut,
    WithdrawalPage,
    WithdrawalSettingsIn,
    WithdrawalSettingsOut,
    WithdrawalStatus,
)
from tokenmall.web.deps import Caller, Db, IdempotencyKey, single_query_values
from tokenmall.web.errors import COMMON, responses


class ApproveIn(Body):
    reference: Annotated[
        str | None,
        Field(
            default=None,
            max_length=200,
            description="Paid outside the platform: the transfer's reference (a manual payout)",
        ),
    ] = None


router = APIRouter(
    prefix="/api/v1/tenants/{tenant_id}",
    tags=["withdrawals"],
    dependencies=[Depends(single_query_values)],
)


@router.post(
    "/withdrawals",
    status_code=status.HTTP_201_CREATED,
    response_model=WithdrawalOut,
    summary="Withdraw cash: debts are repaid first, the amount is held until approved",
    responses=responses(*COMMON, 403, 409),
)
def request_withdrawal(
    tenant_id: TenantId,
    payload: WithdrawalIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        uow = MallUnitOfWork.joining(conn)
        found = withdrawals.request(
            uow, caller, tenant_id, payload.amount, utc_now(), merchant_id=payload.merchant_id
        )
        return WithdrawalOut.of(found)

    return write(request, db, caller, tenant_id, key, payload, make, status_code=201)


@router.get(
    "/withdrawals",
    response_model=WithdrawalPage,
    summary="The caller's withdrawals (admins: everyone's, by status, user or store)",
    description=(
        "One page in withdrawal-id order (stable: new withdrawals come after the last page). "
        "Pass the answer's `next_after` as `after` for the next page; `next_after` is null on "
        "the last. With `merchant_id`, only that store's withdrawals (its royalty income): "
        "its owner's, or for an admin any store's; another's store answers 404."
    ),
    responses=responses(*COMMON),
)
def list_withdrawals(
    tenant_id: TenantId,
    caller: Caller,
    db: Db,
    status: WithdrawalStatus | None = None,
    user_id: Annotated[str | None, Query(max_length=40)] = None,
    merchant_id: Annotated[
        str | None, Query(max_length=40, description="Only this store's withdrawals")
    ] = None,
    after: After = None,
    limit: Limit = 50,
) -> WithdrawalPage:
    with db.reading() as uow:
        found = withdrawals.list_withdrawals(
            uow,
            caller,
            tenant_id,
            status=status,
            user_id=user_id,
            after=after,
            limit=limit,
            merchant_id=merchant_id,
        )
    return WithdrawalPage(
        items=[WithdrawalOut.of(w) for w in found],
        next_after=next_after([w.withdrawal_id for w in found], limit),
    )


@router.get(
    "/withdrawals/{withdrawal_id}",
    response_model=WithdrawalOut,
    summary="One withdrawal (its requester, admins)",
    responses=responses(*COMMON),
)
def get_withdrawal(
    tenant_id: TenantId, withdrawal_id: ResourceId, caller: Caller, db: Db
) -> WithdrawalOut:
    with db.reading() as uow:
        return WithdrawalOut.of(withdrawals.get(uow, caller, tenant_id, withdrawal_id))


@router.post(
    "/withdrawals/{withdrawal_id}/approve",
    response_model=WithdrawalOut,
    summary="Approve (admins, never the requester); the last approval needed pays it out: "
    "to the requester's payee account through the channel (status paying, then paid or "
    "failed with the cash returned), or with a reference, as paid manually",
    responses=responses(*COMMON, 403, 409),
)
def approve_withdrawal(
    tenant_id: TenantId,
    withdrawal_id: ResourceId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    payload: ApproveIn | None = None,
) -> Response:
    channel = through_channel(request, db, tenant_id)
    planned: list[str] = []

    def make(conn: Connection) -> BaseModel:
        uow = MallUnitOfWork.joining(conn)
        found = withdrawals.approve(
            uow,
            caller,
            tenant_id,
            withdrawal_id,
            utc_now(),
            through_channel=channel,
            manual_reference=None if payload is None else payload.reference,
        )
        if found.status == "paying":
            made = payouts.payout_of(uow, tenant_id, withdrawal_id)
            planned.extend([] if made is None else [made.payout_id])
        return WithdrawalOut.of(found)

    answer = write(request, db, caller, tenant_id, key, payload, make)
    for payout_id in planned:  # after the approval committed: the channel is asked outside it
        send_payout(request, db, tenant_id, payout_id)
    return answer


@router.post(
    "/withdrawals/{withdrawal_id}/reject",
    response_model=WithdrawalOut,
    summary="Reject (admins, never the requester): the held cash returns to the user",
    responses=responses(*COMMON, 403, 409),
)
def reject_withdrawal(
    tenant_id: TenantId,
    withdrawal_id: ResourceId,
    payload: RejectIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        uow = MallUnitOfWork.joining(conn)
        found = withdrawals.reject(uow, caller, tenant_id, withdrawal_id, payload.reason, utc_now())
        return WithdrawalOut.of(found)

    return write(request, db, caller, tenant_id, key, payload, make)


@router.get(
    "/withdrawal-settings",
    response_model=WithdrawalSettingsOut,
    summary="The tenant's withdrawal rules: KYC, minimum, two-approver threshold (admins)",
    responses=responses(*COMMON, 403),
)
def get_settings(tenant_id: TenantId, caller: Caller, db: Db) -> WithdrawalSettingsOut:
    with db.reading() as uow:
        return WithdrawalSettingsOut.of(withdrawals.get_settings(uow, caller, tenant_id))


@router.patch(
    "/withdrawal-settings",
    response_model=WithdrawalSettingsOut,
    summary="Change the tenant's withdrawal rules (admins)",
    responses=responses(*COMMON, 403),
)
def patch_settings(
    tenant_id: TenantId,
    payload: WithdrawalSettingsIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        uow = MallUnitOfWork.joining(conn)
        found = withdrawals.update_settings(
            uow,
            caller,
            tenant_id,
            requires_kyc=payload.requires_kyc,
            min_amount=payload.min_amount,
            two_approver_threshold=payload.two_approver_threshold,
            now=utc_now(),
        )
        return WithdrawalSettingsOut.of(found)

    return write(request, db, caller, tenant_id, key, payload, make)
