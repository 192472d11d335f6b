"""The storefront's parts of the mall's pages: the home page's banners, category tabs,
search box and products a page at a time (each with its cover image), a product's gallery,
and its share links (the poster, ``share.py``, carries the sharer's invite code)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from sqlalchemy import Connection

from tokenmall.domain.errors import DomainError
from tokenmall.domain.mall.store import StoredImage
from tokenmall.services.mall import people
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import InvalidInput
from tokenmall.services.mall.uow import MallUnitOfWork
from tokenmall.services.store import banners, categories, images
from tokenmall.web.errors import status_of
from tokenmall.web.pages import sessions, snapshots

PAGE_SIZE = 20


def _param(request: Request, name: str, longest: int) -> str:
    return (request.query_params.get(name) or "")[:longest]


def home_context(request: Request, tenant_id: str) -> dict[str, Any]:
    """The home page's figures, the same for every visitor (the worker's snapshot, at most
    ``snapshots.LIFETIME`` old); a bad search (too long, an unknown category) shows its message
    with the status it deserves and no products."""
    query = _param(request, "q", 200)
    category = _param(request, "category", 40) or None
    after = _param(request, "after", 40) or None
    return snapshots.of(request).get(
        ("home", tenant_id, query, category, after),
        lambda: _home(request, tenant_id, query, category, after),
    )


def _home(
    request: Request, tenant_id: str, query: str, category: str | None, after: str | None
) -> dict[str, Any]:
    error: str | None = None
    status = 200
    rows: list[dict[str, Any]] = []
    following: str | None = None
    with sessions.database(request).reading() as unit:
        shown = banners.listing(unit, tenant_id)
        tabs = categories.listing(unit, tenant_id)
        try:
            page = categories.search(
                unit, tenant_id, query=query, category_id=category, after=after, limit=PAGE_SIZE
            )
        except DomainError as exc:
            error, status = str(exc), status_of(exc)
        else:
            for item in page.items:
                cover = item.images[0] if item.images else None
                rows.append(
                    {
                        "product": item.product,
                        "skus": item.skus,
                        "image": None
                        if cover is None
                        else images.url(tenant_id, cover.image_id, thumbnail=True),
                    }
                )
            if page.next_after is not None:
                kept = {"q": query, "category": category or ""}
                following = urlencode(
                    {k: v for k, v in {**kept, "after": page.next_after}.items() if v}
                )
    return {
        "products": rows,
        "banners": [
            {"title": b.title, "link": b.link, "image": images.url(tenant_id, b.image_id)}
            for b in shown
        ],
        "categories": tabs,
        "query": query,
        "category": category,
        "searching": bool(query or category),
        "search_error": error,
        "next_page": following,
        "status": status,
    }


def picture(image: StoredImage) -> dict[str, Any]:
    return {
        "image_id": image.image_id,
        "url": images.url(image.tenant_id, image.image_id),
        "thumbnail": images.url(image.tenant_id, image.image_id, thumbnail=True),
        "width": image.width,
        "height": image.height,
    }


def share_links(
    request: Request, tenant_id: str, caller: Principal | None, product_id: str
) -> dict[str, str]:
    """The product's share poster and link: a member's carry their invite code."""
    invite = "" if caller is None else invite_code(request, tenant_id, caller)
    suffix = f"?{urlencode({'invite': invite})}" if invite else ""
    return {
        "poster": f"/{tenant_id}/products/{product_id}/poster.png{suffix}",
        "link": product_link(request, tenant_id, product_id, invite),
        "invite": invite,
    }


def invite_code(request: Request, tenant_id: str, caller: Principal) -> str:
    """The member's own invite code ("" if none), kept in the snapshots under their user id."""

    def load() -> str:
        with sessions.database(request).reading() as unit:
            return people.me(unit, caller, tenant_id).invite_code or ""

    return snapshots.of(request).get(("invite", tenant_id, caller.subject_id), load)


def product_link(request: Request, tenant_id: str, product_id: str, invite: str) -> str:
    """The product's public address (the deployment's), with the sharer's invite code."""
    base = sessions.settings(request).public_base_url.rstrip("/")
    suffix = f"?{urlencode({'invite': invite})}" if invite else ""
    return f"{base}/{tenant_id}/products/{product_id}{suffix}"


def invite_of(request: Request) -> str:
    """The invite code a shared link carries ("" if none); anything but 4 to 32 letters and
    digits is a 422 naming ``invite``."""
    code = (request.query_params.get("invite") or "").strip()
    if code and not (4 <= len(code) <= 32 and code.isascii() and code.isalnum()):
        raise InvalidInput("invite must be an invite code of letters and digits", "invite")
    return code.upper()


def console_media(conn: Connection, tenant_id: str, product_ids: Sequence[str]) -> dict[str, Any]:
    """The console's products page: each product's images and category, and the categories."""
    unit = MallUnitOfWork.joining(conn)
    found = images.of_products(unit, tenant_id, product_ids)
    return {
        "pictures": {pid: [picture(i) for i in shown] for pid, shown in found.items()},
        "filed": categories.of_products(unit, tenant_id, list(product_ids)),
        "categories": categories.listing(unit, tenant_id),
    }
