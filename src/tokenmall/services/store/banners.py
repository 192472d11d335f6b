"""The mall home's banners (轮播图): an image and where a tap leads, managed by admins,
shown to everyone in their order.

A link is a path of the mall (``/…``, never ``//…``) or an ``https://`` address; anything
else is a 422 naming ``link``. A refused banner stores nothing, its image included.
"""

from __future__ import annotations

from datetime import datetime

from tokenmall.domain.mall.people import Role
from tokenmall.domain.mall.store import MAX_BANNERS, Banner
from tokenmall.services.mall import ids, validate
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import InvalidInput, NotFound
from tokenmall.services.mall.uow import MallUnitOfWork
from tokenmall.services.store import images


def listing(unit: MallUnitOfWork, tenant_id: str) -> list[Banner]:
    """Public: the banners in their order."""
    return unit.store.banners(tenant_id)


def _link(value: str) -> str:
    link = validate.text(value, "link", max_length=300)
    if any(c.isspace() for c in link) or '"' in link or "<" in link:
        raise InvalidInput("link must not contain spaces, quotes or angle brackets", "link")
    if link.startswith("/") and not link.startswith("//") and "\\" not in link:
        return link
    if link.startswith("https://") and len(link) > len("https://"):
        return link
    raise InvalidInput("link must be a path of the mall (/…) or an https:// address", "link")


def create(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    *,
    title: str,
    link: str,
    data: bytes,
    now: datetime,
) -> Banner:
    require(caller, tenant_id, (Role.ADMIN,))
    existing = unit.store.banners(tenant_id)
    if len(existing) >= MAX_BANNERS:
        raise InvalidInput(f"a mall shows at most {MAX_BANNERS} banners", "file")
    cleaned_title = validate.text(title, "title", max_length=100)
    cleaned_link = _link(link)
    image = images.store_image(unit, tenant_id, None, 0, data, now)
    banner = Banner(
        tenant_id=tenant_id,
        banner_id=ids.new_id("bnr"),
        image_id=image.image_id,
        title=cleaned_title,
        link=cleaned_link,
        position=max((b.position for b in existing), default=-1) + 1,
        created_at=now,
    )
    unit.store.add_banner(banner)
    return banner


def delete(unit: MallUnitOfWork, caller: Principal | None, tenant_id: str, banner_id: str) -> None:
    require(caller, tenant_id, (Role.ADMIN,))
    gone = unit.store.delete_banner(tenant_id, banner_id) if len(banner_id) <= 40 else None
    if gone is None:
        raise NotFound(f"no banner {banner_id!r}", "banner_id")
