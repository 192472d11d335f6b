"""NFG rights the mall enforces outside checkout: redemption (提货) and the ``entry`` right.

* ``/nfg/redemptions``: the owner of a token asks for its good (its collection's voucher SKU,
  else its linked SKU) to an address of theirs; the SKU's merchant ships and delivers it (the
  token is burned) or cancels it (the token is held again). Consumers see their own, merchants
  theirs to ship, admins all.
* ``/nfg/entry/scan``: a merchant's staff or an admin scans a certificate QR; the token's
  ``entry`` right is checked and its use recorded and logged.
* ``/nfg/tokens/{collection_id}/{serial}/uses``: the uses of a token's rights (its owner,
  staff).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from tokenmall.domain.nfg.redemptions import Redemption
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.services.nfg import entry, redemption
from tokenmall.services.nfg.entry import RightUse
from tokenmall.web.api.common import ResourceId, TenantId, write
from tokenmall.web.api.log import Config
from tokenmall.web.api.schemas import Request as RequestModel
from tokenmall.web.api.schemas import Response as ResponseModel
from tokenmall.web.deps import Caller, Db, IdempotencyKey, single_query_values
from tokenmall.web.errors import COMMON, responses

router = APIRouter(
    prefix="/api/v1/tenants/{tenant_id}/nfg",
    tags=["nfg rights"],
    dependencies=[Depends(single_query_values)],
)
READ = responses(*COMMON, 403)
WRITE = responses(*COMMON, 403, 409)

Serial = Annotated[int, Path(ge=1, le=1_000_000, description="The token's serial")]


class RedeemIn(RequestModel):
    collection_id: str = Field(max_length=40, description="The token's collection")
    serial: int = Field(ge=1, le=1_000_000, description="The token's serial")
    address_id: str | None = Field(
        default=None, max_length=40, description="An address of yours to ship to (required)"
    )


class ShipIn(RequestModel):
    carrier: str | None = Field(default=None, max_length=100)
    tracking_number: str | None = Field(default=None, max_length=100)


class CancelIn(RequestModel):
    reason: str | None = Field(default=None, max_length=200)


class ScanIn(RequestModel):
    certificate: str = Field(
        max_length=500,
        description="The certificate URL read from its QR: /{tenant}/c/{collection_id}/{serial}",
    )
    note: str | None = Field(default=None, max_length=200)


class RedemptionOut(ResponseModel):
    redemption_id: str
    token: str = Field(description="collection/serial")
    collection_id: str
    serial: int
    user_id: str
    sku_id: str
    merchant_id: str
    kind: str = Field(description="voucher (the voucher right's SKU) or linked (the linked SKU)")
    status: str = Field(
        description="Its order's: requested (paid by the token, to ship), shipped, delivered "
        "(received: the token burned) or cancelled (before shipping: the token held again)"
    )
    paid_by: str = Field(description="Always 'token': no money or points are taken")
    order_id: str = Field(
        description="The mall order that ships it (paid by the token, total 0): shipped and "
        "received through the orders' own routes as well"
    )
    recipient: str
    phone: str
    address: str
    carrier: str | None
    tracking_number: str | None
    created_at: datetime
    shipped_at: datetime | None
    closed_at: datetime | None
    closed_by: str | None

    @classmethod
    def of(cls, r: Redemption) -> RedemptionOut:
        return cls(
            redemption_id=r.redemption_id,
            token=f"{r.collection_id}/{r.serial}",
            collection_id=r.collection_id,
            serial=r.serial,
            user_id=r.user_id,
            sku_id=r.sku_id,
            merchant_id=r.merchant_id,
            kind=str(r.kind),
            status=str(r.status),
            paid_by="token",
            order_id=r.order_id,
            recipient=r.recipient,
            phone=r.phone,
            address=r.address,
            carrier=r.carrier,
            tracking_number=r.tracking_number,
            created_at=r.created_at,
            shipped_at=r.shipped_at,
            closed_at=r.closed_at,
            closed_by=r.closed_by,
        )


class RedemptionList(ResponseModel):
    redemptions: list[RedemptionOut]


class RightUseOut(ResponseModel):
    use_id: str
    right: str = Field(description="entry or voucher")
    used_by: str = Field(description="The staff member who checked it")
    note: str | None
    used_at: datetime

    @classmethod
    def of(cls, use: RightUse) -> RightUseOut:
        return cls(
            use_id=use.use_id,
            right=use.right_kind,
            used_by=use.used_by,
            note=use.note,
            used_at=use.used_at,
        )


class RightUseList(ResponseModel):
    token: str
    uses: list[RightUseOut]


class EntryOut(ResponseModel):
    ok: bool = Field(description="Always true: a refused scan answers 4xx")
    token: str
    collection_id: str
    collection_name: str
    serial: int
    edition_size: int
    entry: str = Field(description="What the right admits to")
    state: str
    use: RightUseOut
    uses_count: int = Field(description="Uses of this token's rights so far, this one included")


@router.post(
    "/redemptions",
    status_code=status.HTTP_201_CREATED,
    response_model=RedemptionOut,
    summary="Redeem a token you hold (提货): it is locked and its good shipped to you",
    responses=WRITE,
)
def create_redemption(
    tenant_id: TenantId,
    payload: RedeemIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    config: Config,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        found = redemption.request(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            collection_id=payload.collection_id,
            serial=payload.serial,
            address_id=payload.address_id,
            config=config,
            now=utc_now(),
        )
        return RedemptionOut.of(found)

    return write(request, db, caller, tenant_id, key, payload, make, status_code=201)


@router.get(
    "/redemptions",
    response_model=RedemptionList,
    summary="Redemptions: yours (consumers), to ship (merchants), all (admins); newest first",
    responses=READ,
)
def list_redemptions(tenant_id: TenantId, caller: Caller, db: Db) -> RedemptionList:
    with db.reading() as unit:
        found = redemption.list_redemptions(unit, caller, tenant_id)
    return RedemptionList(redemptions=[RedemptionOut.of(r) for r in found])


@router.get(
    "/redemptions/{redemption_id}",
    response_model=RedemptionOut,
    summary="One redemption",
    responses=READ,
)
def get_redemption(
    tenant_id: TenantId, redemption_id: ResourceId, caller: Caller, db: Db
) -> RedemptionOut:
    with db.reading() as unit:
        return RedemptionOut.of(redemption.get(unit, caller, tenant_id, redemption_id))


@router.post(
    "/redemptions/{redemption_id}/ship",
    response_model=RedemptionOut,
    summary="Ship a redemption's good (its SKU's merchant, or an admin)",
    responses=WRITE,
)
def ship_redemption(
    tenant_id: TenantId,
    redemption_id: ResourceId,
    payload: ShipIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        found = redemption.ship(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            redemption_id,
            carrier=payload.carrier,
            tracking_number=payload.tracking_number,
            now=utc_now(),
        )
        return RedemptionOut.of(found)

    return write(request, db, caller, tenant_id, key, payload, make)


@router.post(
    "/redemptions/{redemption_id}/deliver",
    response_model=RedemptionOut,
    summary="Mark a redemption delivered (its order received): the token is burned (its SKU's "
    "merchant, an admin)",
    responses=WRITE,
)
def deliver_redemption(
    tenant_id: TenantId,
    redemption_id: ResourceId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    config: Config,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        found = redemption.deliver(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            redemption_id,
            config=config,
            now=utc_now(),
        )
        return RedemptionOut.of(found)

    return write(request, db, caller, tenant_id, key, None, make)


@router.post(
    "/redemptions/{redemption_id}/cancel",
    response_model=RedemptionOut,
    summary="Cancel a redemption before it ships (its owner, merchant, an admin): the token "
    "is held again",
    responses=WRITE,
)
def cancel_redemption(
    tenant_id: TenantId,
    redemption_id: ResourceId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    config: Config,
    body: CancelIn | None = None,
) -> Response:
    payload = body or CancelIn()

    def make(conn: Connection) -> BaseModel:
        found = redemption.cancel(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            redemption_id,
            reason=payload.reason,
            config=config,
            now=utc_now(),
        )
        return RedemptionOut.of(found)

    return write(request, db, caller, tenant_id, key, payload, make)


def entry_out(check: entry.EntryCheck) -> EntryOut:
    return EntryOut(
        ok=True,
        token=check.token.key,
        collection_id=check.collection.collection_id,
        collection_name=check.collection.name,
        serial=check.token.serial,
        edition_size=check.collection.edition_size,
        entry=check.collection.rights.entry or "",
        state=str(check.token.state),
        use=RightUseOut.of(check.use),
        uses_count=len(check.uses),
    )


@router.post(
    "/entry/scan",
    response_model=EntryOut,
    summary="Check a scanned certificate's entry right and record its use (merchants, admins)",
    responses=WRITE,
)
def scan_entry(
    tenant_id: TenantId,
    payload: ScanIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    config: Config,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        check = entry.scan(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            certificate=payload.certificate,
            note=payload.note,
            config=config,
            now=utc_now(),
        )
        return entry_out(check)

    return write(request, db, caller, tenant_id, key, payload, make)


@router.get(
    "/tokens/{collection_id}/{serial}/uses",
    response_model=RightUseList,
    summary="The uses of a token's rights (its owner, merchants' staff, admins)",
    responses=READ,
)
def token_uses(
    tenant_id: TenantId, collection_id: ResourceId, serial: Serial, caller: Caller, db: Db
) -> RightUseList:
    with db.reading() as unit:
        found = entry.uses(unit, caller, tenant_id, collection_id, serial)
    return RightUseList(
        token=f"{collection_id}/{serial}", uses=[RightUseOut.of(use) for use in found]
    )
