"""Referral endpoints: invite code and link, inviter, invitees, rewards."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from tokenmall.services.mall import referrals
from tokenmall.web.api.common import Limit, ResourceId, TenantId
from tokenmall.web.api.schemas_wallet import ReferralsOut
from tokenmall.web.deps import Caller, Db, single_query_values
from tokenmall.web.errors import COMMON, responses

router = APIRouter(
    prefix="/api/v1/tenants/{tenant_id}",
    tags=["referrals"],
    dependencies=[Depends(single_query_values)],
)


@router.get(
    "/referrals/me",
    response_model=ReferralsOut,
    summary="The caller's invite link, inviter, invitees, referral points and commissions",
    responses=responses(*COMMON),
)
def my_referrals(
    tenant_id: TenantId, request: Request, caller: Caller, db: Db, limit: Limit = 50
) -> ReferralsOut:
    with db.reading() as uow:
        found = referrals.referrals(
            uow, caller, tenant_id, str(request.base_url), invitee_limit=limit
        )
    return ReferralsOut.of(found)


@router.get(
    "/users/{user_id}/referrals",
    response_model=ReferralsOut,
    summary="A user's referrals (admins)",
    responses=responses(*COMMON, 403),
)
def user_referrals(
    tenant_id: TenantId,
    user_id: ResourceId,
    request: Request,
    caller: Caller,
    db: Db,
    limit: Limit = 50,
) -> ReferralsOut:
    with db.reading() as uow:
        found = referrals.referrals(
            uow, caller, tenant_id, str(request.base_url), user_id, invitee_limit=limit
        )
    return ReferralsOut.of(found)
