"""Request and response models of the storefront's API: images, categories, search, banners."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from tokenmall.domain.mall.store import Banner, Category, StoredImage
from tokenmall.services.store import images
from tokenmall.services.store.categories import Listed
from tokenmall.web.api.schemas import ProductOut, Request, Response, SkuOut


class ImageOut(Response):
    image_id: str
    product_id: str | None
    position: int
    content_type: str
    width: int
    height: int
    sha256: str
    url: str
    thumbnail_url: str

    @classmethod
    def of(cls, image: StoredImage) -> ImageOut:
        return cls(
            image_id=image.image_id,
            product_id=image.product_id,
            position=image.position,
            content_type=image.content_type,
            width=image.width,
            height=image.height,
            sha256=image.sha256,
            url=images.url(image.tenant_id, image.image_id),
            thumbnail_url=images.url(image.tenant_id, image.image_id, thumbnail=True),
        )


class ImageList(Response):
    items: list[ImageOut]


class Deleted(Response):
    deleted: str


class CategoryIn(Request):
    name: Annotated[str, Field(max_length=100, description="Shown on the home page's tabs")]


class CategoryOut(Response):
    category_id: str
    name: str
    position: int
    created_at: datetime

    @classmethod
    def of(cls, c: Category) -> CategoryOut:
        return cls(
            category_id=c.category_id, name=c.name, position=c.position, created_at=c.created_at
        )


class CategoryList(Response):
    items: list[CategoryOut]


class ProductCategoryIn(Request):
    category_id: Annotated[str, Field(max_length=40)] | None = Field(
        description="The category to file the product under; null for none"
    )


class ProductCategoryOut(Response):
    product_id: str
    category_id: str | None


class ListedOut(Response):
    product: ProductOut
    skus: list[SkuOut]
    images: list[ImageOut]
    category_id: str | None

    @classmethod
    def of(cls, item: Listed) -> ListedOut:
        return cls(
            product=ProductOut.of(item.product),
            skus=[SkuOut.of(s) for s in item.skus],
            images=[ImageOut.of(i) for i in item.images],
            category_id=item.category_id,
        )


class SearchPage(Response):
    items: list[ListedOut]
    next_after: str | None


class BannerOut(Response):
    banner_id: str
    title: str
    link: str
    position: int
    image_url: str
    created_at: datetime

    @classmethod
    def of(cls, b: Banner) -> BannerOut:
        return cls(
            banner_id=b.banner_id,
            title=b.title,
            link=b.link,
            position=b.position,
            image_url=images.url(b.tenant_id, b.image_id),
            created_at=b.created_at,
        )


class BannerList(Response):
    items: list[BannerOut]
