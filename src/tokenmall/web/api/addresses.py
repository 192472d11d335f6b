"""A consumer's own address book (收货地址): list, add, change, delete, choose the default.

Consumers only (merchants and admins: 403); another user's or another tenant's address is 404.
Checkout takes an ``address_id`` from here (or the default) and keeps a snapshot on its orders.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel
from sqlalchemy import Connection

from tokenmall.services.mall import addresses
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.web.api.common import ResourceId, TenantId, write
from tokenmall.web.api.schemas_addresses import AddressIn, AddressList, AddressOut, AddressPatch
from tokenmall.web.deps import Caller, Db, IdempotencyKey, single_query_values
from tokenmall.web.errors import COMMON, responses

router = APIRouter(
    prefix="/api/v1/tenants/{tenant_id}/me/addresses",
    tags=["addresses"],
    dependencies=[Depends(single_query_values)],
)
READ = responses(*COMMON, 403)
WRITE = responses(*COMMON, 403, 409)


@router.get(
    "",
    response_model=AddressList,
    summary="Your address book: the default first, then the newest (consumers)",
    responses=READ,
)
def list_addresses(tenant_id: TenantId, caller: Caller, db: Db) -> AddressList:
    with db.reading() as uow:
        return AddressList.of(addresses.list_addresses(uow, caller, tenant_id))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AddressOut,
    summary="Add an address (at most 20; the first one is the default)",
    responses=WRITE,
)
def create_address(
    tenant_id: TenantId,
    payload: AddressIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        values = addresses.checked(
            recipient=payload.recipient,
            phone_number=payload.phone,
            region=payload.region,
            detail=payload.detail,
            postal=payload.postal_code,
        )
        found = addresses.create(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            values,
            make_default=payload.is_default,
            now=utc_now(),
        )
        return AddressOut.of(found)

    return write(request, db, caller, tenant_id, key, payload, make, status_code=201)


@router.get(
    "/{address_id}",
    response_model=AddressOut,
    summary="One of your addresses",
    responses=READ,
)
def get_address(tenant_id: TenantId, address_id: ResourceId, caller: Caller, db: Db) -> AddressOut:
    with db.reading() as uow:
        return AddressOut.of(addresses.get_address(uow, caller, tenant_id, address_id))


@router.patch(
    "/{address_id}",
    response_model=AddressOut,
    summary="Change an address (orders already placed keep the address they had)",
    responses=WRITE,
)
def update_address(
    tenant_id: TenantId,
    address_id: ResourceId,
    payload: AddressPatch,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        found = addresses.update(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            address_id,
            recipient=payload.recipient,
            phone_number=payload.phone,
            region=payload.region,
            detail=payload.detail,
            postal=payload.postal_code,
            postal_given="postal_code" in payload.model_fields_set,
            now=utc_now(),
        )
        return AddressOut.of(found)

    return write(request, db, caller, tenant_id, key, payload, make)


@router.delete(
    "/{address_id}",
    response_model=AddressList,
    summary="Delete an address; if it was the default, the newest left becomes the default",
    responses=WRITE,
)
def delete_address(
    tenant_id: TenantId,
    address_id: ResourceId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        uow = MallUnitOfWork.joining(conn)
        return AddressList.of(addresses.delete(uow, caller, tenant_id, address_id, utc_now()))

    return write(request, db, caller, tenant_id, key, None, make)


@router.post(
    "/{address_id}/default",
    response_model=AddressOut,
    summary="Make an address your default",
    responses=WRITE,
)
def set_default_address(
    tenant_id: TenantId,
    address_id: ResourceId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        uow = MallUnitOfWork.joining(conn)
        return AddressOut.of(addresses.set_default(uow, caller, tenant_id, address_id, utc_now()))

    return write(request, db, caller, tenant_id, key, None, make)
