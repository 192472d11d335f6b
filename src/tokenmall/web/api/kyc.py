"""Real-name verification (实名认证): a consumer submits their name and identity number; admins
review the queue. Only masked values are ever answered; the full ones are stored sealed."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel
from sqlalchemy import Connection

from tokenmall import bootstrap
from tokenmall.domain.mall.kyc import SubmissionStatus as Status
from tokenmall.services.mall import kyc
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.web.api.common import After, Limit, ResourceId, TenantId, next_after, write
from tokenmall.web.api.schemas_kyc import (
    KycIn,
    KycRejectIn,
    KycSubmissionOut,
    KycSubmissionPage,
    MyKycOut,
    SubmissionStatus,
)
from tokenmall.web.deps import Caller, Db, IdempotencyKey, settings, single_query_values
from tokenmall.web.errors import COMMON, responses

router = APIRouter(
    prefix="/api/v1/tenants/{tenant_id}",
    tags=["kyc"],
    dependencies=[Depends(single_query_values)],
)


def sealer(request: Request) -> kyc.Sealer:
    """The sealing of real-name details under the deployment's secret."""
    return bootstrap.kyc_sealer(settings(request).secret_key.get_secret_value())


@router.get(
    "/me/kyc",
    response_model=MyKycOut,
    summary="The caller's real-name status and latest submission (masked)",
    responses=responses(*COMMON),
)
def my_kyc(tenant_id: TenantId, caller: Caller, db: Db) -> MyKycOut:
    with db.reading() as uow:
        return MyKycOut.of(kyc.mine(uow, caller, tenant_id))


@router.post(
    "/me/kyc",
    status_code=status.HTTP_201_CREATED,
    response_model=KycSubmissionOut,
    summary="Submit one's real name and identity number for review (consumers; with no "
    "real-name status or a rejected one)",
    responses=responses(*COMMON, 403, 409),
)
def submit_kyc(
    tenant_id: TenantId,
    payload: KycIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    seal = sealer(request)

    def make(conn: Connection) -> BaseModel:
        found = kyc.submit(
            MallUnitOfWork.joining(conn),
            seal,
            caller,
            tenant_id,
            real_name=payload.real_name,
            id_number=payload.id_number,
            phone=payload.phone,
            now=utc_now(),
        )
        return KycSubmissionOut.of(found)

    # The request's hash in the idempotency store is made of keyed digests, never of the values.
    hashed = KycIn.model_construct(
        real_name=seal.fingerprint(tenant_id, payload.real_name),
        id_number=seal.fingerprint(tenant_id, payload.id_number),
        phone=None if payload.phone is None else seal.fingerprint(tenant_id, payload.phone),
    )
    return write(request, db, caller, tenant_id, key, hashed, make, status_code=201)


@router.get(
    "/kyc-submissions",
    response_model=KycSubmissionPage,
    summary="Real-name submissions, the oldest first: the review queue is status=pending (admins)",
    responses=responses(*COMMON, 403),
)
def list_submissions(
    tenant_id: TenantId,
    caller: Caller,
    db: Db,
    status: SubmissionStatus | None = None,
    after: After = None,
    limit: Limit = 50,
) -> KycSubmissionPage:
    with db.reading() as uow:
        found = kyc.list_submissions(
            uow,
            caller,
            tenant_id,
            status=None if status is None else Status(status),
            after=after,
            limit=limit,
        )
    return KycSubmissionPage(
        items=[KycSubmissionOut.of(s) for s in found],
        next_after=next_after([s.submission_id for s in found], limit),
    )


@router.get(
    "/kyc-submissions/{submission_id}",
    response_model=KycSubmissionOut,
    summary="One real-name submission, masked (admins)",
    responses=responses(*COMMON, 403),
)
def get_submission(
    tenant_id: TenantId, submission_id: ResourceId, caller: Caller, db: Db
) -> KycSubmissionOut:
    with db.reading() as uow:
        return KycSubmissionOut.of(kyc.get_submission(uow, caller, tenant_id, submission_id))


def _review(
    request: Request,
    db: Db,
    caller: Caller,
    tenant_id: str,
    submission_id: str,
    key: str,
    decision: str,
    payload: KycRejectIn | None,
) -> Response:
    seal = sealer(request)

    def make(conn: Connection) -> BaseModel:
        found = kyc.review(
            MallUnitOfWork.joining(conn),
            seal,
            caller,
            tenant_id,
            submission_id,
            decision=decision,
            reason=None if payload is None else payload.reason,
            now=utc_now(),
        )
        return KycSubmissionOut.of(found)

    return write(request, db, caller, tenant_id, key, payload, make)


@router.post(
    "/kyc-submissions/{submission_id}/approve",
    response_model=KycSubmissionOut,
    summary="Verify a pending submission: the member is real-name verified (admins; the "
    "reviewer is recorded)",
    responses=responses(*COMMON, 403, 409),
)
def approve_submission(
    tenant_id: TenantId,
    submission_id: ResourceId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    return _review(request, db, caller, tenant_id, submission_id, key, "verify", None)


@router.post(
    "/kyc-submissions/{submission_id}/reject",
    response_model=KycSubmissionOut,
    summary="Reject a pending submission with a reason the member sees; they may submit "
    "again (admins)",
    responses=responses(*COMMON, 403, 409),
)
def reject_submission(
    tenant_id: TenantId,
    submission_id: ResourceId,
    payload: KycRejectIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    return _review(request, db, caller, tenant_id, submission_id, key, "reject", payload)
