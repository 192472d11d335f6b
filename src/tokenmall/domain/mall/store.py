"""The storefront's records: product images, categories and banners."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

MAX_IMAGES_PER_PRODUCT = 9
MAX_CATEGORIES = 50
MAX_BANNERS = 10


@dataclass(frozen=True, slots=True)
class StoredImage:
    """An uploaded image: a product's (``product_id`` set, shown in ``position`` order) or a
    banner's (``product_id`` None). Its bytes never change: ``sha256`` is its ETag."""

    tenant_id: str
    image_id: str
    product_id: str | None
    position: int
    content_type: str
    width: int
    height: int
    sha256: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Category:
    tenant_id: str
    category_id: str
    name: str
    position: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Banner:
    tenant_id: str
    banner_id: str
    image_id: str
    title: str
    link: str
    position: int
    created_at: datetime
