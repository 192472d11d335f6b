"""A product's share poster (分享海报): a PNG for anyone, its QR code opening the product's
public link with the sharer's invite code (``services/store/poster.py`` draws it)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from tokenmall.services.mall import catalogue
from tokenmall.services.store import poster
from tokenmall.web.pages import sessions
from tokenmall.web.pages.errors import PageRoute
from tokenmall.web.pages.mall import tenant_or_404
from tokenmall.web.pages.storefront import invite_of, product_link

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/{tenant_id}/products/{product_id}/poster.png")
def poster_png(request: Request, tenant_id: str, product_id: str) -> Response:
    """The product's share poster, for anyone (the product must be on sale)."""
    tenant = tenant_or_404(request, tenant_id)
    invite = invite_of(request)
    with sessions.database(request).reading() as unit:
        product, skus, _ = catalogue.public_product(unit, tenant_id, product_id)
        drawn = poster.render(
            unit,
            mall_name=tenant.name,
            product=product,
            skus=skus,
            link=product_link(request, tenant_id, product_id, invite),
            invite_code=invite or None,
        )
    return Response(
        drawn.png,
        media_type="image/png",
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )
