"""Catalogue and stock: merchants, products, SKUs, stock movements."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel
from sqlalchemy import Connection

from tokenmall.services.mall import catalogue
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.web.api.common import After, Limit, ResourceId, TenantId, next_after, write
from tokenmall.web.api.schemas import (
    MerchantIn,
    MerchantOut,
    MerchantPage,
    ProductDetailOut,
    ProductIn,
    ProductOut,
    ProductPage,
    ProductPatch,
    SkuIn,
    SkuOut,
    SkuPatch,
    StockChangeIn,
    StockMovementList,
    StockMovementOut,
)
from tokenmall.web.deps import Caller, Db, IdempotencyKey, single_query_values
from tokenmall.web.errors import COMMON, responses

router = APIRouter(
    prefix="/api/v1/tenants/{tenant_id}",
    tags=["catalogue"],
    dependencies=[Depends(single_query_values)],
)


@router.get(
    "/merchants",
    response_model=MerchantPage,
    summary="List merchants (any member)",
    responses=responses(*COMMON),
)
def list_merchants(
    tenant_id: TenantId, caller: Caller, db: Db, after: After = None, limit: Limit = 50
) -> MerchantPage:
    with db.reading() as uow:
        found = catalogue.list_merchants(uow, caller, tenant_id, after, limit)
    return MerchantPage(
        items=[MerchantOut.of(m) for m in found],
        next_after=next_after([m.merchant_id for m in found], limit),
    )


@router.post(
    "/merchants",
    status_code=status.HTTP_201_CREATED,
    response_model=MerchantOut,
    summary="Create a merchant owned by a user with the merchant role (admins)",
    responses=responses(*COMMON, 403, 409),
)
def create_merchant(
    tenant_id: TenantId,
    payload: MerchantIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        uow = MallUnitOfWork.joining(conn)
        merchant = catalogue.create_merchant(
            uow, caller, tenant_id, payload.name, payload.owner_user_id, utc_now()
        )
        return MerchantOut.of(merchant)

    return write(request, db, caller, tenant_id, key, payload, make, status_code=201)


@router.get(
    "/merchants/{merchant_id}",
    response_model=MerchantOut,
    summary="One merchant (any member)",
    responses=responses(*COMMON),
)
def get_merchant(
    tenant_id: TenantId, merchant_id: ResourceId, caller: Caller, db: Db
) -> MerchantOut:
    with db.reading() as uow:
        return MerchantOut.of(catalogue.get_merchant(uow, caller, tenant_id, merchant_id))


@router.get(
    "/products",
    response_model=ProductPage,
    summary="List products (consumers see active ones only)",
    responses=responses(*COMMON),
)
def list_products(
    tenant_id: TenantId,
    caller: Caller,
    db: Db,
    merchant_id: Annotated[str | None, Query(max_length=40)] = None,
    after: After = None,
    limit: Limit = 50,
) -> ProductPage:
    with db.reading() as uow:
        found = catalogue.list_products(uow, caller, tenant_id, merchant_id, after, limit)
    return ProductPage(
        items=[ProductOut.of(p) for p in found],
        next_after=next_after([p.product_id for p in found], limit),
    )


@router.post(
    "/products",
    status_code=status.HTTP_201_CREATED,
    response_model=ProductOut,
    summary="Create a product (the merchant who owns it, or an admin)",
    responses=responses(*COMMON, 403, 409),
)
def create_product(
    tenant_id: TenantId,
    payload: ProductIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        uow = MallUnitOfWork.joining(conn)
        product = catalogue.create_product(
            uow,
            caller,
            tenant_id,
            merchant_id=payload.merchant_id,
            title=payload.title,
            description=payload.description,
            now=utc_now(),
        )
        return ProductOut.of(product)

    return write(request, db, caller, tenant_id, key, payload, make, status_code=201)


@router.get(
    "/products/{product_id}",
    response_model=ProductDetailOut,
    summary="One product with its SKUs",
    responses=responses(*COMMON),
)
def get_product(
    tenant_id: TenantId, product_id: ResourceId, caller: Caller, db: Db
) -> ProductDetailOut:
    with db.reading() as uow:
        product, skus = catalogue.get_product(uow, caller, tenant_id, product_id)
    return ProductDetailOut(
        **ProductOut.of(product).model_dump(), skus=[SkuOut.of(s) for s in skus]
    )


@router.patch(
    "/products/{product_id}",
    response_model=ProductOut,
    summary="Change a product's title, description or status",
    responses=responses(*COMMON, 403, 409),
)
def update_product(
    tenant_id: TenantId,
    product_id: ResourceId,
    payload: ProductPatch,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    changes = catalogue.ProductChanges(
        title=payload.title, description=payload.description, status=payload.status
    )

    def make(conn: Connection) -> BaseModel:
        uow = MallUnitOfWork.joining(conn)
        product = catalogue.update_product(uow, caller, tenant_id, product_id, changes)
        return ProductOut.of(product)

    return write(request, db, caller, tenant_id, key, payload, make)


@router.post(
    "/products/{product_id}/skus",
    status_code=status.HTTP_201_CREATED,
    response_model=SkuOut,
    summary="Add a SKU: price, opening stock, optional fixed pool contribution",
    responses=responses(*COMMON, 403, 409),
)
def create_sku(
    tenant_id: TenantId,
    product_id: ResourceId,
    payload: SkuIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        uow = MallUnitOfWork.joining(conn)
        sku = catalogue.create_sku(
            uow,
            caller,
            tenant_id,
            product_id,
            name=payload.name,
            price=payload.price,
            stock=payload.stock,
            pool_contribution=payload.pool_contribution,
            now=utc_now(),
        )
        return SkuOut.of(sku)

    return write(request, db, caller, tenant_id, key, payload, make, status_code=201)


@router.get(
    "/skus/{sku_id}", response_model=SkuOut, summary="One SKU", responses=responses(*COMMON)
)
def get_sku(tenant_id: TenantId, sku_id: ResourceId, caller: Caller, db: Db) -> SkuOut:
    with db.reading() as uow:
        return SkuOut.of(catalogue.get_sku(uow, caller, tenant_id, sku_id))


@router.patch(
    "/skus/{sku_id}",
    response_model=SkuOut,
    summary="Change a SKU's name, price or pool contribution (stock changes by movements)",
    responses=responses(*COMMON, 403, 409),
)
def update_sku(
    tenant_id: TenantId,
    sku_id: ResourceId,
    payload: SkuPatch,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    clear = payload.pool_contribution == ""
    changes = catalogue.SkuChanges(
        name=payload.name,
        price=payload.price,
        pool_contribution=None if clear else payload.pool_contribution,
        clear_pool_contribution=clear,
    )

    def make(conn: Connection) -> BaseModel:
        uow = MallUnitOfWork.joining(conn)
        return SkuOut.of(catalogue.update_sku(uow, caller, tenant_id, sku_id, changes))

    return write(request, db, caller, tenant_id, key, payload, make)


@router.post(
    "/skus/{sku_id}/stock-movements",
    status_code=status.HTTP_201_CREATED,
    response_model=StockMovementOut,
    summary="Add or take stock atomically; never below zero (409 out_of_stock)",
    responses=responses(*COMMON, 403, 409),
)
def change_stock(
    tenant_id: TenantId,
    sku_id: ResourceId,
    payload: StockChangeIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        uow = MallUnitOfWork.joining(conn)
        movement = catalogue.change_stock(
            uow,
            caller,
            tenant_id,
            sku_id,
            change=payload.change,
            reason=payload.reason,
            reference=payload.reference,
            now=utc_now(),
        )
        return StockMovementOut.of(movement)

    return write(request, db, caller, tenant_id, key, payload, make, status_code=201)


@router.get(
    "/skus/{sku_id}/stock-movements",
    response_model=StockMovementList,
    summary="A SKU's stock movements, oldest first (its merchant or an admin)",
    responses=responses(*COMMON, 403),
)
def list_movements(
    tenant_id: TenantId, sku_id: ResourceId, caller: Caller, db: Db, limit: Limit = 50
) -> StockMovementList:
    with db.reading() as uow:
        found = catalogue.list_movements(uow, caller, tenant_id, sku_id, limit)
    return StockMovementList(items=[StockMovementOut.of(m) for m in found])
