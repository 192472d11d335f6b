"""The storefront's API: product images (multipart upload, public and cached for good),
categories and the product's category, search with paging, and the home page's banners.

Reads are public (a shared link opens without an account); every write takes an
Idempotency-Key. A refused upload (not an image, too big) is a 422 naming ``file``, nothing
stored.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from pydantic import BaseModel
from sqlalchemy import Connection

from tokenmall.services import images as encoding
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.services.store import banners, categories, images
from tokenmall.web.api.common import (
    IMAGE,
    After,
    ResourceId,
    TenantId,
    image_response,
    write,
)
from tokenmall.web.api.schemas import Request as RequestModel
from tokenmall.web.api.schemas_store import (
    BannerList,
    BannerOut,
    CategoryIn,
    CategoryList,
    CategoryOut,
    Deleted,
    ImageList,
    ImageOut,
    ListedOut,
    ProductCategoryIn,
    ProductCategoryOut,
    SearchPage,
)
from tokenmall.web.deps import Caller, Db, IdempotencyKey, single_query_values
from tokenmall.web.errors import COMMON, responses

router = APIRouter(
    prefix="/api/v1/tenants/{tenant_id}",
    tags=["storefront"],
    dependencies=[Depends(single_query_values)],
)
READ = responses(*COMMON)
WRITE = responses(*COMMON, 403, 409)


class UploadFingerprint(RequestModel):
    sha256: str
    title: str = ""
    link: str = ""


def _read(file: UploadFile) -> bytes:
    return file.file.read(encoding.MAX_BYTES + 1)


# --- product images ---


@router.post(
    "/products/{product_id}/images",
    status_code=201,
    response_model=ImageOut,
    summary="Add an image to a product (PNG, JPEG or WebP, at most 5 MiB; multipart `file`)",
    responses=WRITE,
)
def upload_image(
    tenant_id: TenantId,
    product_id: ResourceId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    file: Annotated[UploadFile, File(description="The image")],
) -> Response:
    data = _read(file)
    fingerprint = UploadFingerprint(sha256=hashlib.sha256(data).hexdigest(), title=product_id)

    def make(conn: Connection) -> BaseModel:
        unit = MallUnitOfWork.joining(conn)
        return ImageOut.of(images.upload(unit, caller, tenant_id, product_id, data, utc_now()))

    return write(request, db, caller, tenant_id, key, fingerprint, make, status_code=201)


@router.get(
    "/products/{product_id}/images",
    response_model=ImageList,
    summary="A product's images in their order (public; the first is the cover)",
    responses=READ,
)
def list_images(tenant_id: TenantId, product_id: ResourceId, db: Db) -> ImageList:
    with db.reading() as unit:
        found = images.of_products(unit, tenant_id, [product_id]).get(product_id, [])
    return ImageList(items=[ImageOut.of(i) for i in found])


@router.delete(
    "/images/{image_id}",
    response_model=Deleted,
    summary="Delete a product's image (its merchant or an admin)",
    responses=WRITE,
)
def delete_image(
    tenant_id: TenantId,
    image_id: ResourceId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        images.delete(MallUnitOfWork.joining(conn), caller, tenant_id, image_id)
        return Deleted(deleted=image_id)

    return write(request, db, caller, tenant_id, key, None, make)


@router.get(
    "/images/{image_id}",
    response_class=Response,
    summary="An image (public; cached for good: an id never changes its content)",
    responses=IMAGE,
)
def get_image(tenant_id: TenantId, image_id: ResourceId, request: Request, db: Db) -> Response:
    with db.reading() as unit:
        image, body = images.read(unit, tenant_id, image_id, thumbnail=False)
    return image_response(request, body, image.content_type, image.sha256)


@router.get(
    "/images/{image_id}/thumbnail",
    response_class=Response,
    summary="An image's thumbnail (at most 320 pixels a side; public, cached for good)",
    responses=IMAGE,
)
def get_thumbnail(tenant_id: TenantId, image_id: ResourceId, request: Request, db: Db) -> Response:
    with db.reading() as unit:
        image, body = images.read(unit, tenant_id, image_id, thumbnail=True)
    return image_response(request, body, image.content_type, f"{image.sha256}-thumbnail")


# --- categories and search ---


@router.get(
    "/categories",
    response_model=CategoryList,
    summary="The mall's categories in their order (public)",
    responses=READ,
)
def list_categories(tenant_id: TenantId, db: Db) -> CategoryList:
    with db.reading() as unit:
        found = categories.listing(unit, tenant_id)
    return CategoryList(items=[CategoryOut.of(c) for c in found])


@router.post(
    "/categories",
    status_code=201,
    response_model=CategoryOut,
    summary="Create a category (admins)",
    responses=WRITE,
)
def create_category(
    tenant_id: TenantId,
    payload: CategoryIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        unit = MallUnitOfWork.joining(conn)
        return CategoryOut.of(categories.create(unit, caller, tenant_id, payload.name, utc_now()))

    return write(request, db, caller, tenant_id, key, payload, make, status_code=201)


@router.patch(
    "/categories/{category_id}",
    response_model=CategoryOut,
    summary="Rename a category (admins)",
    responses=WRITE,
)
def rename_category(
    tenant_id: TenantId,
    category_id: ResourceId,
    payload: CategoryIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        unit = MallUnitOfWork.joining(conn)
        return CategoryOut.of(categories.rename(unit, caller, tenant_id, category_id, payload.name))

    return write(request, db, caller, tenant_id, key, payload, make)


@router.put(
    "/products/{product_id}/category",
    response_model=ProductCategoryOut,
    summary="File a product under a category, or under none (its merchant or an admin)",
    responses=WRITE,
)
def set_product_category(
    tenant_id: TenantId,
    product_id: ResourceId,
    payload: ProductCategoryIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        unit = MallUnitOfWork.joining(conn)
        filed = categories.assign(unit, caller, tenant_id, product_id, payload.category_id)
        return ProductCategoryOut(product_id=product_id, category_id=filed)

    return write(request, db, caller, tenant_id, key, payload, make)


@router.get(
    "/search",
    response_model=SearchPage,
    summary="Search the active products (public; any part of a title or description, "
    "Chinese included), optionally in one category, a page at a time",
    responses=READ,
)
def search(
    tenant_id: TenantId,
    db: Db,
    q: Annotated[str, Query(max_length=200, description="Words to find; empty: all")] = "",
    category_id: Annotated[str | None, Query(max_length=40)] = None,
    after: After = None,
    limit: Annotated[int, Query(ge=1, le=100, description="At most this many items")] = 20,
) -> SearchPage:
    with db.reading() as unit:
        page = categories.search(
            unit, tenant_id, query=q, category_id=category_id, after=after, limit=limit
        )
    return SearchPage(items=[ListedOut.of(i) for i in page.items], next_after=page.next_after)


# --- banners ---


@router.get(
    "/banners",
    response_model=BannerList,
    summary="The mall home's banners in their order (public)",
    responses=READ,
)
def list_banners(tenant_id: TenantId, db: Db) -> BannerList:
    with db.reading() as unit:
        found = banners.listing(unit, tenant_id)
    return BannerList(items=[BannerOut.of(b) for b in found])


@router.post(
    "/banners",
    status_code=201,
    response_model=BannerOut,
    summary="Add a banner: an image (multipart `file`), a title and where a tap leads (admins)",
    responses=WRITE,
)
def create_banner(
    tenant_id: TenantId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    file: Annotated[UploadFile, File(description="The image")],
    title: Annotated[str, Form(max_length=200)],
    link: Annotated[str, Form(max_length=400, description="/… of the mall, or https://…")],
) -> Response:
    data = _read(file)
    fingerprint = UploadFingerprint(sha256=hashlib.sha256(data).hexdigest(), title=title, link=link)

    def make(conn: Connection) -> BaseModel:
        unit = MallUnitOfWork.joining(conn)
        made = banners.create(
            unit, caller, tenant_id, title=title, link=link, data=data, now=utc_now()
        )
        return BannerOut.of(made)

    return write(request, db, caller, tenant_id, key, fingerprint, make, status_code=201)


@router.delete(
    "/banners/{banner_id}",
    response_model=Deleted,
    summary="Delete a banner and its image (admins)",
    responses=WRITE,
)
def delete_banner(
    tenant_id: TenantId,
    banner_id: ResourceId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        banners.delete(MallUnitOfWork.joining(conn), caller, tenant_id, banner_id)
        return Deleted(deleted=banner_id)

    return write(request, db, caller, tenant_id, key, None, make)
