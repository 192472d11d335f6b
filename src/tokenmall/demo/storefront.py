"""The demo mall's storefront: categories, a picture for every product (drawn here with
Pillow: no image files are shipped) and a banner. Done once, when the mall has no category
yet; safe to call on every start."""

from __future__ import annotations

import io
from datetime import datetime

from PIL import Image, ImageDraw
from sqlalchemy import Connection

from tokenmall.domain.mall.catalogue import Product
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import MallUnitOfWork
from tokenmall.services.store import banners, categories, images
from tokenmall.services.store.poster import font

# A category's name, the words of a title that file it there, and its colours.
SHELVES: tuple[tuple[str, tuple[str, ...], tuple[str, str]], ...] = (
    ("红酒", ("干红", "赤霞珠"), ("#7b1e2b", "#c0392b")),
    ("起泡酒", ("起泡",), ("#8a6d1f", "#e0b84a")),
    ("酒具", ("醒酒器", "开瓶器"), ("#1f4e79", "#4a90c2")),
)


def _gradient(size: tuple[int, int], top: str, bottom: str) -> Image.Image:
    upper = Image.new("RGB", size, top)
    lower = Image.new("RGB", size, bottom)
    mask = Image.linear_gradient("L").resize(size)
    return Image.composite(lower, upper, mask)


def picture(title: str, colours: tuple[str, str], size: tuple[int, int] = (600, 600)) -> bytes:
    """A simple product picture: a gradient, a bottle's outline and the title's first word."""
    image = _gradient(size, *colours)
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.rounded_rectangle(
        (w * 0.40, h * 0.30, w * 0.60, h * 0.82), radius=int(w * 0.06), outline="white", width=6
    )
    draw.rectangle((w * 0.47, h * 0.14, w * 0.53, h * 0.30), outline="white", width=6)
    draw.text((w / 2, h * 0.56), title[:1], font=font(int(h * 0.14)), fill="white", anchor="mm")
    draw.text((w / 2, h * 0.92), title[:12], font=font(int(h * 0.05)), fill="white", anchor="mm")
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _shelf(product: Product) -> int:
    for index, (_, words, _) in enumerate(SHELVES):
        if any(word in product.title for word in words):
            return index
    return 0


def dress(conn: Connection, admin: Principal, tenant_id: str, now: datetime) -> bool:
    """Categories, pictures and a banner for the demo mall, unless it has categories."""
    unit = MallUnitOfWork.joining(conn)
    if categories.listing(unit, tenant_id):
        return False
    shelves = [categories.create(unit, admin, tenant_id, name, now) for name, _, _ in SHELVES]
    listed = unit.catalogue.list_products(tenant_id, None, True, None, 200)
    for product in listed:
        index = _shelf(product)
        categories.assign(unit, admin, tenant_id, product.product_id, shelves[index].category_id)
        data = picture(product.title, SHELVES[index][2])
        images.upload(unit, admin, tenant_id, product.product_id, data, now)
    bottle = next((p for p in listed if "干红" in p.title), None)
    link = f"/{tenant_id}/" if bottle is None else f"/{tenant_id}/products/{bottle.product_id}"
    wide = picture("醇香新酒上市 · 每一瓶都进底池", SHELVES[0][2], (1200, 400))
    banners.create(unit, admin, tenant_id, title="醇香干红 新酒上市", link=link, data=wide, now=now)
    return True
