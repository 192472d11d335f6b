"""A product's share poster (分享海报): a PNG with the product's cover picture, title and
price, the mall's name, and a QR code of the product's link carrying the sharer's invite code,
drawn with Pillow in a CJK font found by path (``adapters/fonts.py``). Without such a font
the text is drawn in Pillow's own font (Chinese then shows as boxes) and ``Poster.font`` is
None."""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache

import segno
from PIL import Image, ImageDraw, ImageFont

from tokenmall.adapters.fonts import cjk_font_paths
from tokenmall.domain.mall.catalogue import Product, Sku
from tokenmall.domain.money import format_money
from tokenmall.services.mall.uow import MallUnitOfWork
from tokenmall.services.store import images

WIDTH, HEIGHT = 750, 1200
MARGIN = 40
RED, INK, MUTED = (180, 35, 42), (31, 35, 40), (102, 112, 133)
NOTE = "积分价值仅由底池支撑，价格只在有新销售时上涨；不承诺任何收益。"
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True, slots=True)
class Poster:
    png: bytes
    font: str | None


@cache
def _font_path() -> str | None:
    for path in cjk_font_paths():
        try:
            ImageFont.truetype(path, 20)
        except OSError:
            continue
        return path
    return None


def font(size: int) -> Font:
    """The CJK font (else Pillow's own) at ``size`` pixels."""
    path = _font_path()
    return ImageFont.load_default(size) if path is None else ImageFont.truetype(path, size)


def _lines(draw: ImageDraw.ImageDraw, text: str, font: Font, width: int, most: int) -> list[str]:
    """``text`` broken into at most ``most`` lines of ``width`` pixels (character by
    character: Chinese has no spaces), the last cut with an ellipsis."""
    lines: list[str] = []
    current = ""
    for char in text:
        if draw.textlength(current + char, font=font) > width:
            lines.append(current)
            current = char
            if len(lines) == most:
                break
        else:
            current += char
    else:
        if current:
            lines.append(current)
        return lines
    last = lines[-1]
    while last and draw.textlength(last + "…", font=font) > width:
        last = last[:-1]
    lines[-1] = last + "…"
    return lines


def _cover(unit: MallUnitOfWork, product: Product, side: int) -> Image.Image:
    found = images.of_products(unit, product.tenant_id, [product.product_id])
    pictures = found.get(product.product_id, [])
    if pictures:
        _, body = images.read(unit, product.tenant_id, pictures[0].image_id, thumbnail=False)
        with Image.open(io.BytesIO(body)) as opened:
            picture = opened.convert("RGB")
        picture.thumbnail((side, side))
        tile = Image.new("RGB", (side, side), (246, 247, 249))
        tile.paste(picture, ((side - picture.width) // 2, (side - picture.height) // 2))
        return tile
    tile = Image.new("RGB", (side, side), RED)
    draw = ImageDraw.Draw(tile)
    draw.text(
        (side // 2, side // 2), product.title[:1], font=font(side // 3), fill="white", anchor="mm"
    )
    return tile


def _qr(link: str, side: int) -> Image.Image:
    code = segno.make(link, error="m", micro=False)
    out = io.BytesIO()
    code.save(out, kind="png", scale=10, border=2)
    out.seek(0)
    with Image.open(out) as opened:
        return opened.convert("RGB").resize((side, side), Image.Resampling.NEAREST)


def render(
    unit: MallUnitOfWork,
    *,
    mall_name: str,
    product: Product,
    skus: list[Sku],
    link: str,
    invite_code: str | None,
) -> Poster:
    """The poster of ``product`` whose QR code opens ``link``."""
    canvas = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, WIDTH, 96), fill=RED)
    draw.text((MARGIN, 48), mall_name, font=font(38), fill="white", anchor="lm")
    side = WIDTH - 2 * MARGIN
    canvas.paste(_cover(unit, product, side), (MARGIN, 120))
    y = 120 + side + 24
    title = font(36)
    for line in _lines(draw, product.title, title, side, 2):
        draw.text((MARGIN, y), line, font=title, fill=INK)
        y += 48
    if skus:
        low = min(s.price_fen for s in skus)
        price = "¥" + format_money(low) + (" 起" if any(s.price_fen != low for s in skus) else "")
        draw.text((MARGIN, y + 4), price, font=font(44), fill=RED)
    qr_side = 200
    qr_top = HEIGHT - qr_side - 70
    canvas.paste(_qr(link, qr_side), (WIDTH - MARGIN - qr_side, qr_top))
    small = font(26)
    draw.text((MARGIN, qr_top + 40), "长按识别二维码", font=small, fill=INK)
    draw.text((MARGIN, qr_top + 80), "查看商品详情", font=small, fill=INK)
    if invite_code:
        draw.text((MARGIN, qr_top + 130), f"邀请码 {invite_code}", font=small, fill=MUTED)
    note = font(20)
    for i, line in enumerate(_lines(draw, NOTE, note, side, 2)):
        draw.text((MARGIN, HEIGHT - 52 + i * 26), line, font=note, fill=MUTED)
    out = io.BytesIO()
    canvas.save(out, "PNG", optimize=True)
    return Poster(out.getvalue(), _font_path())
