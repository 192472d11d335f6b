"""The NFG registry's API: collections, media, grants, tokens, transfers, settings, metadata.

Collections and media are managed by admins (and merchants for their own store); published
collections, media and token metadata are public. Every write takes an Idempotency-Key.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Depends, File, Path, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Connection

from tokenmall.domain.nfg.metadata import token_metadata
from tokenmall.services import images
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.services.market import orders
from tokenmall.services.nfg import media, registry, tokens
from tokenmall.web.api.common import (
    IMAGE,
    After,
    Limit,
    ResourceId,
    TenantId,
    image_response,
    next_after,
    write,
)
from tokenmall.web.api.log import Config
from tokenmall.web.api.schemas import Request as RequestModel
from tokenmall.web.api.schemas_nfg import (
    BurnIn,
    CollectionIn,
    CollectionList,
    CollectionOut,
    CollectionPatch,
    GrantIn,
    GrantOut,
    MediaOut,
    SettingsIn,
    SettingsOut,
    TokenDetail,
    TokenList,
    TokenOut,
    TransferIn,
)
from tokenmall.web.deps import Caller, Db, IdempotencyKey, single_query_values
from tokenmall.web.errors import COMMON, responses

router = APIRouter(
    prefix="/api/v1/tenants/{tenant_id}/nfg",
    tags=["NFG registry"],
    dependencies=[Depends(single_query_values)],
)
READ = responses(*COMMON, 403)
WRITE = responses(*COMMON, 403, 409)
Serial = Annotated[int, Path(ge=0, le=2**53, description="The token's serial (1..N)")]


def api_base(request: Request, tenant_id: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/api/v1/tenants/{tenant_id}"


# --- collections ---


@router.get(
    "/collections",
    response_model=CollectionList,
    summary="Collections: published ones for everyone; admins see all, merchants their own too",
    responses=responses(*COMMON),
)
def list_collections(
    tenant_id: TenantId, caller: Caller, db: Db, after: After = None, limit: Limit = 50
) -> CollectionList:
    with db.reading() as unit:
        found = registry.listing(unit, caller, tenant_id, after=after, limit=limit)
    return CollectionList(
        collections=[CollectionOut.of(c) for c in found],
        next_after=next_after([c.collection_id for c in found], limit),
    )


@router.post(
    "/collections",
    status_code=201,
    response_model=CollectionOut,
    summary="Create a collection as a draft (admins; merchants for their own store)",
    responses=WRITE,
)
def create_collection(
    tenant_id: TenantId,
    payload: CollectionIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    config: Config,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        given = registry.NewCollection(
            name=payload.name,
            description=payload.description,
            edition_size=payload.edition_size,
            price=payload.price,
            price_asset=payload.price_asset,
            per_user_limit=payload.per_user_limit,
            sale_starts_at=payload.sale_starts_at,
            sale_ends_at=payload.sale_ends_at,
            allow_list=payload.allow_list,
            linked_sku_id=payload.linked_sku_id,
            rights=payload.rights,
            media_id=payload.media_id,
            issuer_merchant_id=payload.issuer_merchant_id,
        )
        unit = MallUnitOfWork.joining(conn)
        made = registry.create(unit, caller, tenant_id, given, config=config, now=utc_now())
        return CollectionOut.of(made)

    return write(request, db, caller, tenant_id, key, payload, make, status_code=201)


@router.get(
    "/collections/{collection_id}",
    response_model=CollectionOut,
    summary="One collection (drafts and closed ones: its managers only)",
    responses=responses(*COMMON),
)
def get_collection(
    tenant_id: TenantId, collection_id: ResourceId, caller: Caller, db: Db
) -> CollectionOut:
    with db.reading() as unit:
        return CollectionOut.of(registry.get(unit, caller, tenant_id, collection_id))


@router.patch(
    "/collections/{collection_id}",
    response_model=CollectionOut,
    summary="Change a draft collection (the fields given)",
    responses=WRITE,
)
def edit_collection(
    tenant_id: TenantId,
    collection_id: ResourceId,
    payload: CollectionPatch,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    config: Config,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        changes = {f: getattr(payload, f) for f in payload.model_fields_set}
        unit = MallUnitOfWork.joining(conn)
        found = registry.edit(
            unit, caller, tenant_id, collection_id, changes, config=config, now=utc_now()
        )
        return CollectionOut.of(found)

    return write(request, db, caller, tenant_id, key, payload, make)


def _status_route(action: str, summary: str) -> None:
    @router.post(
        f"/collections/{{collection_id}}/{action}",
        response_model=CollectionOut,
        summary=summary,
        responses=WRITE,
        name=f"{action}_collection",
    )
    def change(
        tenant_id: TenantId,
        collection_id: ResourceId,
        request: Request,
        caller: Caller,
        db: Db,
        key: IdempotencyKey,
    ) -> Response:
        def make(conn: Connection) -> BaseModel:
            unit = MallUnitOfWork.joining(conn)
            return CollectionOut.of(
                registry.set_status(unit, caller, tenant_id, collection_id, action)
            )

        return write(request, db, caller, tenant_id, key, None, make)


_status_route("publish", "Publish a draft collection (admins)")
_status_route("close", "Close a published collection: no more primary sales")


@router.post(
    "/collections/{collection_id}/mint",
    status_code=201,
    response_model=GrantOut,
    summary="Grant (airdrop) the next serials of a collection to a user (admins)",
    responses=WRITE,
)
def grant(
    tenant_id: TenantId,
    collection_id: ResourceId,
    payload: GrantIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    config: Config,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        unit = MallUnitOfWork.joining(conn)
        made = tokens.grant(
            unit,
            caller,
            tenant_id,
            collection_id,
            user_id=payload.user_id,
            email=payload.email,
            count=payload.count,
            config=config,
            now=utc_now(),
        )
        collection = registry.find(unit, tenant_id, collection_id)
        return GrantOut(tokens=[TokenOut.of(collection, t) for t in made])

    return write(request, db, caller, tenant_id, key, payload, make, status_code=201)


@router.get(
    "/collections/{collection_id}/tokens",
    response_model=TokenList,
    summary="A collection's tokens in serial order (admins, the issuing merchant)",
    responses=READ,
)
def collection_tokens(
    tenant_id: TenantId,
    collection_id: ResourceId,
    caller: Caller,
    db: Db,
    after: Annotated[int, Query(ge=0, le=2**53, description="Serials after this one")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> TokenList:
    with db.reading() as unit:
        collection, found = tokens.of_collection(
            unit, caller, tenant_id, collection_id, after=after, limit=limit
        )
    return TokenList(tokens=[TokenOut.of(collection, t) for t in found])


# --- media ---


class UploadFingerprint(RequestModel):
    sha256: str


@router.post(
    "/media",
    status_code=201,
    response_model=MediaOut,
    summary="Upload a collection image (PNG, JPEG or WebP, at most 5 MiB; multipart `file`)",
    responses=WRITE,
)
def upload_media(
    tenant_id: TenantId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    file: Annotated[UploadFile, File(description="The image")],
) -> Response:
    data = file.file.read(images.MAX_BYTES + 1)
    fingerprint = UploadFingerprint(sha256=hashlib.sha256(data).hexdigest())
    base = api_base(request, tenant_id)

    def make(conn: Connection) -> BaseModel:
        stored = media.upload(MallUnitOfWork.joining(conn), caller, tenant_id, data, utc_now())
        return MediaOut.of(stored, base)

    return write(request, db, caller, tenant_id, key, fingerprint, make, status_code=201)


@router.get(
    "/media/{media_id}",
    response_class=Response,
    summary="A collection image (public; cached for good, its id never changes content)",
    responses=IMAGE,
)
def get_media(tenant_id: TenantId, media_id: ResourceId, request: Request, db: Db) -> Response:
    with db.reading() as unit:
        found = media.get(unit, tenant_id, media_id)
    return image_response(request, found.data, found.content_type, found.sha256)


@router.get(
    "/media/{media_id}/thumbnail",
    response_class=Response,
    summary="A collection image's thumbnail (at most 320 pixels a side; public)",
    responses=IMAGE,
)
def get_thumbnail(tenant_id: TenantId, media_id: ResourceId, request: Request, db: Db) -> Response:
    with db.reading() as unit:
        found = media.get(unit, tenant_id, media_id)
    return image_response(request, found.thumbnail, found.content_type, f"{found.sha256}-thumbnail")


# --- settings ---


@router.get(
    "/settings",
    response_model=SettingsOut,
    summary="The shop's NFG settings: the hold period before a token may be given (admins)",
    responses=READ,
)
def get_settings(tenant_id: TenantId, caller: Caller, db: Db) -> SettingsOut:
    with db.reading() as unit:
        return SettingsOut(gift_hold_days=tokens.gift_hold_days(unit, caller, tenant_id))


@router.put(
    "/settings",
    response_model=SettingsOut,
    summary="Set the days a token must be held before it may be given (0: at once; admins)",
    responses=WRITE,
)
def put_settings(
    tenant_id: TenantId,
    payload: SettingsIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        unit = MallUnitOfWork.joining(conn)
        days = tokens.set_gift_hold_days(unit, caller, tenant_id, payload.gift_hold_days, utc_now())
        return SettingsOut(gift_hold_days=days)

    return write(request, db, caller, tenant_id, key, payload, make)


# --- tokens ---


@router.get(
    "/tokens/mine",
    response_model=TokenList,
    summary="My collection (我的藏品): the caller's tokens",
    responses=READ,
)
def my_tokens(tenant_id: TenantId, caller: Caller, db: Db) -> TokenList:
    with db.reading() as unit:
        found = tokens.mine(unit, caller, tenant_id)
    return TokenList(tokens=[TokenOut.of(c, t) for c, t in found])


@router.get(
    "/tokens/{collection_id}/{serial}",
    response_model=TokenDetail,
    summary="One token: owner, state and its history from the log (users of the shop)",
    responses=READ,
)
def get_token(
    tenant_id: TenantId, collection_id: ResourceId, serial: Serial, caller: Caller, db: Db
) -> TokenDetail:
    with db.reading() as unit:
        return TokenDetail.of_view(tokens.view(unit, caller, tenant_id, collection_id, serial))


@router.post(
    "/tokens/{collection_id}/{serial}/transfer",
    response_model=TokenOut,
    summary="Give your token to another user of the shop (转赠) under the market profile's rules",
    responses=WRITE,
)
def transfer(
    tenant_id: TenantId,
    collection_id: ResourceId,
    serial: Serial,
    payload: TransferIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    config: Config,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        unit = MallUnitOfWork.joining(conn)
        to = tokens.recipient(
            unit, caller, tenant_id, to_user_id=payload.to_user_id, to_email=payload.to_email
        )
        orders.gift(
            unit, caller, tenant_id, collection_id, serial, to, now=utc_now(), config=config
        )
        collection, moved = tokens.find_token(unit, tenant_id, collection_id, serial)
        return TokenOut.of(collection, moved)

    return write(request, db, caller, tenant_id, key, payload, make)


@router.post(
    "/tokens/{collection_id}/{serial}/burn",
    response_model=TokenOut,
    summary="Burn a held token (held → burned; an admin or the issuing merchant): its serial "
    'is never reissued; the body `{"reason"}` is optional',
    responses=WRITE,
)
def burn(
    tenant_id: TenantId,
    collection_id: ResourceId,
    serial: Serial,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    config: Config,
    body: BurnIn | None = None,
) -> Response:
    payload = body or BurnIn()

    def make(conn: Connection) -> BaseModel:
        collection, burned = tokens.burn(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            collection_id,
            serial,
            reason=payload.reason,
            config=config,
            now=utc_now(),
        )
        return TokenOut.of(collection, burned)

    return write(request, db, caller, tenant_id, key, payload, make)


@router.get(
    "/tokens/{collection_id}/{serial}/metadata",
    summary="A token's metadata in the common NFT metadata shape (public)",
    responses=responses(*COMMON),
)
def metadata(
    tenant_id: TenantId, collection_id: ResourceId, serial: Serial, request: Request, db: Db
) -> JSONResponse:
    with db.reading() as unit:
        collection, token = tokens.public_token(unit, tenant_id, collection_id, serial)
    base = api_base(request, tenant_id)
    image = None if collection.media_id is None else f"{base}/nfg/media/{collection.media_id}"
    root = str(request.base_url).rstrip("/")
    document = token_metadata(
        collection,
        token,
        image=image,
        external_url=f"{root}/{tenant_id}/c/{collection_id}/{token.serial}",
    )
    return JSONResponse(document, headers={"Cache-Control": "public, max-age=60"})
