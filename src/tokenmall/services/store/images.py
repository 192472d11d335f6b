"""Product images: uploaded by the product's merchant or an admin, checked, re-encoded and
thumbnailed by ``services/images.py`` (the same code as the NFG media), stored in the
database, shown publicly under an id whose bytes never change.

A refused upload names its field (``file``) and stores nothing; a product holds at most
``MAX_IMAGES_PER_PRODUCT`` images, shown in upload order (the first is the cover).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from tokenmall.domain.mall.people import Role
from tokenmall.domain.mall.store import MAX_IMAGES_PER_PRODUCT, StoredImage
from tokenmall.services import images
from tokenmall.services.mall import catalogue, ids
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import InvalidInput, NotFound
from tokenmall.services.mall.uow import MallUnitOfWork

FIELD = images.FIELD


def store_image(
    unit: MallUnitOfWork,
    tenant_id: str,
    product_id: str | None,
    position: int,
    data: bytes,
    now: datetime,
) -> StoredImage:
    """Encode ``data`` (``InvalidInput`` naming ``file`` if refused) and store it."""
    encoded = images.encode(data, FIELD)
    image = StoredImage(
        tenant_id=tenant_id,
        image_id=ids.new_id("img"),
        product_id=product_id,
        position=position,
        content_type=encoded.content_type,
        width=encoded.width,
        height=encoded.height,
        sha256=hashlib.sha256(encoded.data).hexdigest(),
        created_at=now,
    )
    unit.store.add_image(image, encoded.data, encoded.thumbnail)
    return image


def upload(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    product_id: str,
    data: bytes,
    now: datetime,
) -> StoredImage:
    """A product's image, added after its others (the product's merchant or an admin)."""
    catalogue.managed_product(unit, caller, tenant_id, product_id)
    count, position = unit.store.next_position(tenant_id, product_id)
    if count >= MAX_IMAGES_PER_PRODUCT:
        raise InvalidInput(
            f"a product holds at most {MAX_IMAGES_PER_PRODUCT} images: delete one first", FIELD
        )
    return store_image(unit, tenant_id, product_id, position, data, now)


def delete(unit: MallUnitOfWork, caller: Principal | None, tenant_id: str, image_id: str) -> None:
    require(caller, tenant_id, (Role.MERCHANT, Role.ADMIN))
    image = unit.store.get_image(tenant_id, image_id) if len(image_id) <= 40 else None
    if image is None or image.product_id is None:
        raise NotFound(f"no product image {image_id!r}", "image_id")
    catalogue.managed_product(unit, caller, tenant_id, image.product_id)
    unit.store.delete_image(tenant_id, image_id)


def of_products(
    unit: MallUnitOfWork, tenant_id: str, product_ids: Sequence[str]
) -> dict[str, list[StoredImage]]:
    """Public: each product's images in their order (absent for a product without any)."""
    return unit.store.product_images(tenant_id, product_ids)


def read(
    unit: MallUnitOfWork, tenant_id: str, image_id: str, thumbnail: bool
) -> tuple[StoredImage, bytes]:
    """Public: an image's bytes (or its thumbnail's); images are shown on public pages."""
    found = unit.store.image_bytes(tenant_id, image_id, thumbnail) if len(image_id) <= 40 else None
    if found is None:
        raise NotFound(f"no image {image_id!r}", "image_id")
    return found


def url(tenant_id: str, image_id: str, thumbnail: bool = False) -> str:
    """Where an image is served (public, cached for good)."""
    base = f"/api/v1/tenants/{tenant_id}/images/{image_id}"
    return f"{base}/thumbnail" if thumbnail else base
