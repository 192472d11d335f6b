"""Collection media: an uploaded image, checked, re-encoded and thumbnailed by
``services/images.py`` (shared with the product images and banners), stored in the registry.

Anything refused names the ``file`` field and stores nothing.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from tokenmall.adapters.db.nfg.registry import Media
from tokenmall.services.images import encode
from tokenmall.services.mall import ids
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import NotFound
from tokenmall.services.mall.uow import MallUnitOfWork
from tokenmall.services.nfg.registry import ISSUERS


def upload(
    unit: MallUnitOfWork, caller: Principal | None, tenant_id: str, data: bytes, now: datetime
) -> Media:
    require(caller, tenant_id, ISSUERS)
    encoded = encode(data)
    media = Media(
        tenant_id=tenant_id,
        media_id=ids.new_id("med"),
        content_type=encoded.content_type,
        width=encoded.width,
        height=encoded.height,
        sha256=hashlib.sha256(encoded.data).hexdigest(),
        data=encoded.data,
        thumbnail=encoded.thumbnail,
        created_at=now,
    )
    unit.nfg.add_media(media)
    return media


def get(unit: MallUnitOfWork, tenant_id: str, media_id: str) -> Media:
    """Public: media are shown on public pages and metadata."""
    found = unit.nfg.get_media(tenant_id, media_id) if len(media_id) <= 40 else None
    if found is None:
        raise NotFound(f"no media {media_id!r}", "media_id")
    return found


__all__ = ["Media", "get", "upload"]
