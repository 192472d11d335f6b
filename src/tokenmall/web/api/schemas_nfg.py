"""Request and response models of the NFG registry's API: collections, media, tokens.

Prices are decimal strings (money and stable points with up to 2 places, equity points with
up to 8); counts and serials are whole numbers; times are ISO 8601 with a time zone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from tokenmall.domain.nfg.metadata import display_serial
from tokenmall.domain.nfg.records import Collection, Token
from tokenmall.services.nfg import registry
from tokenmall.services.nfg.media import Media
from tokenmall.services.nfg.tokens import HistoryEntry, TokenView
from tokenmall.web.api.schemas import Request, Response

PriceAssetName = Literal["money", "stable", "equity"]
PriceText = Annotated[
    str,
    Field(
        max_length=40,
        description='A decimal string: money or stable points "12.50", equity points up to 8 '
        "places",
        examples=["99.00"],
    ),
]
When = Annotated[datetime | None, Field(strict=False, description="ISO 8601 with a time zone")]
Id = Annotated[str, Field(max_length=40)]


class CollectionIn(Request):
    name: Annotated[str, Field(max_length=400)]
    description: Annotated[str, Field(max_length=8000)] = ""
    edition_size: Annotated[int, Field(description="Serials 1..N; at most 1,000,000")]
    price: PriceText = "0"
    price_asset: PriceAssetName = "money"
    per_user_limit: int = 1
    sale_starts_at: When = None
    sale_ends_at: When = None
    allow_list: Annotated[list[Id], Field(max_length=10_000)] = Field(default_factory=list)
    linked_sku_id: Id | None = None
    rights: dict[str, Any] | None = Field(
        default=None,
        description='{"may_buy": [sku ids], "discount_bps": 500, "voucher": sku id, '
        '"entry": "VIP lounge"}',
    )
    media_id: Id | None = None
    issuer_merchant_id: Id | None = Field(
        default=None, description="Admins: the merchant issuing it (none: the shop itself)"
    )


class CollectionPatch(Request):
    name: Annotated[str, Field(max_length=400)] | None = None
    description: Annotated[str, Field(max_length=8000)] | None = None
    edition_size: int | None = None
    price: PriceText | None = None
    price_asset: PriceAssetName | None = None
    per_user_limit: int | None = None
    sale_starts_at: When = None
    sale_ends_at: When = None
    allow_list: Annotated[list[Id], Field(max_length=10_000)] | None = None
    linked_sku_id: Id | None = None
    rights: dict[str, Any] | None = None
    media_id: Id | None = None


class CollectionOut(Response):
    collection_id: str
    name: str
    description: str
    issuer: str
    issuer_merchant_id: str | None
    status: str
    edition_size: int
    price: str
    price_asset: str
    per_user_limit: int
    rights: dict[str, Any]
    linked_sku_id: str | None
    media_id: str | None
    allow_list_only: bool
    sale_starts_at: datetime | None
    sale_ends_at: datetime | None
    minted: int
    burned: int
    available: int
    created_at: datetime

    @classmethod
    def of(cls, c: Collection) -> CollectionOut:
        return cls(
            collection_id=c.collection_id,
            name=c.name,
            description=c.description,
            issuer=c.issuer_merchant_id or c.tenant_id,
            issuer_merchant_id=c.issuer_merchant_id,
            status=str(c.status),
            edition_size=c.edition_size,
            price=registry.price_text(c),
            price_asset=str(c.price_asset),
            per_user_limit=c.per_user_limit,
            rights=c.rights.to_json(),
            linked_sku_id=c.linked_sku_id,
            media_id=c.media_id,
            allow_list_only=c.allow_list_only,
            sale_starts_at=c.sale_starts_at,
            sale_ends_at=c.sale_ends_at,
            minted=c.minted,
            burned=c.burned,
            available=c.available,
            created_at=c.created_at,
        )


class CollectionList(Response):
    collections: list[CollectionOut]
    next_after: str | None


class MediaOut(Response):
    media_id: str
    content_type: str
    width: int
    height: int
    sha256: str
    url: str
    thumbnail_url: str

    @classmethod
    def of(cls, m: Media, base: str) -> MediaOut:
        url = f"{base}/nfg/media/{m.media_id}"
        return cls(
            media_id=m.media_id,
            content_type=m.content_type,
            width=m.width,
            height=m.height,
            sha256=m.sha256,
            url=url,
            thumbnail_url=f"{url}/thumbnail",
        )


class GrantIn(Request):
    user_id: Id | None = None
    email: Annotated[str, Field(max_length=254)] | None = None
    count: int = 1


class TransferIn(Request):
    to_user_id: Id | None = None
    to_email: Annotated[str, Field(max_length=254)] | None = None


class BurnIn(Request):
    reason: Annotated[str, Field(max_length=200)] | None = None


class SettingsIn(Request):
    gift_hold_days: int


class SettingsOut(Response):
    gift_hold_days: int


class TokenOut(Response):
    token: str
    collection_id: str
    collection_name: str
    serial: int
    edition_size: int
    display: str
    owner_id: str
    state: str
    acquired_at: datetime
    certificate_url: str

    @classmethod
    def of(cls, c: Collection, t: Token) -> TokenOut:
        return cls(
            token=t.key,
            collection_id=t.collection_id,
            collection_name=c.name,
            serial=t.serial,
            edition_size=c.edition_size,
            display=display_serial(t.serial, c.edition_size),
            owner_id=t.owner_id,
            state=str(t.state),
            acquired_at=t.acquired_at,
            certificate_url=f"/{t.tenant_id}/c/{t.collection_id}/{t.serial}",
        )


class TokenList(Response):
    tokens: list[TokenOut]


class GrantOut(Response):
    tokens: list[TokenOut]


class HistoryOut(Response):
    index: int
    type: str
    time: str
    fields: dict[str, Any]

    @classmethod
    def of(cls, h: HistoryEntry) -> HistoryOut:
        return cls(index=h.index, type=h.type, time=h.time, fields=h.fields)


class TokenDetail(TokenOut):
    history: list[HistoryOut]

    @classmethod
    def of_view(cls, v: TokenView) -> TokenDetail:
        base = TokenOut.of(v.collection, v.token).model_dump()
        return cls(**base, history=[HistoryOut.of(h) for h in v.history])
