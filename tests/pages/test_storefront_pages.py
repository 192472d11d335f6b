"""The storefront as a browser without JavaScript sees it (SQLite and PostgreSQL): the home
page's banners, category tabs, search and paging, product pictures served for good, the
product page's gallery, buy now (login first, then straight to checkout) and share poster,
and the console's pictures, categories and banners, each bad input shown next to its field
with nothing stored."""

from __future__ import annotations

import html
import io
import re
from typing import Any

from pages_helpers import Browser, Site, field_error, hidden_fields
from PIL import Image
from sqlalchemy import func, select

from tokenmall.adapters.db.storefront.tables import store_banners, store_categories, store_images
from tokenmall.demo import living as demo

TENANT = demo.TENANT_ID
CONSUMER = demo.CONSUMERS[0][0]
MERCHANT = demo.MERCHANTS[0][0]


def _count(site: Site, table: Any) -> int:
    with site.app.state.database.read() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(table).where(table.c.tenant_id == TENANT)
            ).scalar_one()
        )


def _counts(site: Site) -> tuple[int, int, int]:
    return _count(site, store_images), _count(site, store_categories), _count(site, store_banners)


def _products(html: str) -> list[str]:
    """The products listed in the page's grid (not the banners' links)."""
    grid = html.split('data-testid="products"', 1)[-1]
    return re.findall(rf'href="/{TENANT}/products/(prd_[0-9a-z]+)"', grid)


def _png(size: tuple[int, int] = (300, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "green").save(out, "PNG")
    return out.getvalue()


def test_the_home_page_shows_banners_categories_search_and_pictures(browser: Browser) -> None:
    home = browser.get(f"/{TENANT}/")
    assert home.status_code == 200
    assert 'data-testid="banners"' in home.text
    assert "醇香干红 新酒上市" in home.text
    tabs = dict(
        re.findall(rf'href="/{TENANT}/\?category=(cat_[0-9a-z]+)"[^>]*>([^<]+)</a>', home.text)
    )
    assert sorted(tabs.values()) == sorted(["红酒", "起泡酒", "酒具"])
    assert 'role="search"' in home.text
    assert 'placeholder="搜索商品"' in home.text
    pictures = re.findall(r'<img class="thumb" src="([^"]+)"', home.text)
    assert len(pictures) == len(_products(home.text)) == 5
    served = browser.get(pictures[0])
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert (
        browser.get(pictures[0], headers={"If-None-Match": served.headers["etag"]}).status_code
        == 304
    )
    assert max(Image.open(io.BytesIO(served.content)).size) == 320
    # A category's tab shows its products only.
    tools = next(cid for cid, name in tabs.items() if name == "酒具")
    shelf = browser.get(f"/{TENANT}/?category={tools}")
    assert len(_products(shelf.text)) == 2
    assert "醒酒器" in shelf.text
    assert "干红" not in shelf.text.split('data-testid="products"')[1]
    assert f'href="/{TENANT}/?category={tools}" aria-current="page"' in shelf.text
    english = browser.get(f"/{TENANT}/?lang=en")
    assert 'placeholder="Search products"' in english.text
    assert ">All<" in english.text


def test_search_finds_chinese_words_pages_and_refuses_bad_input(browser: Browser) -> None:
    found = browser.get(f"/{TENANT}/", params={"q": "赤霞珠"})
    assert found.status_code == 200
    assert len(_products(found.text)) == 1
    assert "“赤霞珠”的搜索结果" in found.text
    one_character = browser.get(f"/{TENANT}/", params={"q": "酒"})
    assert len(_products(one_character.text)) >= 3
    nothing = browser.get(f"/{TENANT}/", params={"q": "龙井"})
    assert 'data-testid="no-products"' in nothing.text
    assert "没有找到商品" in nothing.text
    too_long = browser.get(f"/{TENANT}/", params={"q": "酒" * 51})
    assert too_long.status_code == 422
    assert 'data-field="q"' in too_long.text
    assert browser.get(f"/{TENANT}/", params={"category": "cat_nothing"}).status_code == 404


def test_a_product_page_has_its_gallery_buy_now_and_a_share_poster(browser: Browser) -> None:
    home = browser.get(f"/{TENANT}/", params={"q": "干红"})
    product = _products(home.text)[0]
    page = browser.get(f"/{TENANT}/products/{product}")
    assert 'data-testid="gallery"' in page.text
    assert 'class="thumb big"' not in page.text
    assert 'data-testid="buy-now"' in page.text
    assert "立即购买" in page.text
    poster_link = re.search(r'href="([^"]+/poster\.png[^"]*)"', page.text)
    assert poster_link is not None
    poster = browser.get(poster_link.group(1))
    assert poster.status_code == 200
    assert poster.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(poster.content)).size == (750, 1200)
    assert browser.get(f"/{TENANT}/products/{product}/poster.png?invite=<x>").status_code == 422
    assert browser.get(f"/{TENANT}/products/prd_nothing/poster.png").status_code == 404
    # A member's poster and link carry their invite code.
    browser.login(TENANT, CONSUMER)
    mine = browser.get(f"/{TENANT}/products/{product}")
    code = re.search(r"poster\.png\?invite=([A-Z0-9]+)", mine.text)
    assert code is not None
    assert f"邀请码 {code.group(1)}" in mine.text
    assert (
        browser.get(f"/{TENANT}/products/{product}/poster.png?invite={code.group(1)}").status_code
        == 200
    )


def test_buy_now_asks_a_visitor_to_log_in_then_goes_straight_to_checkout(
    browser: Browser, site: Site
) -> None:
    product = _products(browser.get(f"/{TENANT}/", params={"q": "开瓶器"}).text)[0]
    page = browser.get(f"/{TENANT}/products/{product}")
    sku = re.search(r'<input type="hidden" name="sku" value="(sku_[0-9a-z]+)">', page.text)
    assert sku is not None
    going = browser.get(f"/{TENANT}/checkout", params={"sku": sku.group(1), "quantity": "2"})
    assert going.status_code == 303
    login_at = going.headers["location"]
    assert login_at.startswith(f"/{TENANT}/login?next=")
    # As a browser reads the form: its values unescaped (the next page's & is &amp; in HTML).
    fields = {k: html.unescape(v) for k, v in browser.form(login_at).items()}
    signed = browser.post(
        f"/{TENANT}/login", {**fields, "email": CONSUMER, "password": "demo-password"}
    )
    assert signed.status_code == 303
    back = signed.headers["location"]
    assert back == f"/{TENANT}/checkout?sku={sku.group(1)}&quantity=2"
    cart_before = browser.get(f"/{TENANT}/cart").text.count('data-testid="cart-line"')
    checkout = browser.get(back)
    assert checkout.status_code == 200
    assert 'data-testid="buy-now-note"' in checkout.text
    assert "海马刀开瓶器" in checkout.text
    assert "× 2" in checkout.text
    assert "¥78.00" in checkout.text
    placed = browser.post(
        f"/{TENANT}/checkout", hidden_fields(checkout.text, f"/{TENANT}/checkout")
    )
    assert placed.status_code == 303, placed.text[:2000]
    pay_at = placed.headers["location"]
    assert "/sandbox/pay/" in pay_at
    # The sandbox's payment page: Chinese first, English on asking, the mall's stylesheet and
    # nothing inline.
    sandbox = browser.get(pay_at)
    assert sandbox.status_code == 200
    assert '<html lang="zh-CN">' in sandbox.text
    assert "沙箱支付" in sandbox.text
    assert "确认支付" in sandbox.text
    assert "待支付" in sandbox.text
    assert "¥78.00" in sandbox.text
    assert "<style" not in sandbox.text
    assert " style=" not in sandbox.text
    assert "<script" not in sandbox.text
    assert 'rel="stylesheet" href="/-/static/app.css"' in sandbox.text
    assert "unsafe-inline" not in sandbox.headers["content-security-policy"]
    english = browser.get(pay_at, params={"lang": "en"})
    assert '<html lang="en">' in english.text
    assert ">Approve<" in english.text
    assert browser.get(f"/{TENANT}/cart").text.count('data-testid="cart-line"') == cart_before
    bad = browser.get(f"/{TENANT}/checkout", params={"sku": sku.group(1), "quantity": "0"})
    assert bad.status_code == 422
    assert "没有可结算的商品" in bad.text
    gone = browser.get(f"/{TENANT}/checkout", params={"sku": "sku_nothing"})
    assert gone.status_code == 422


def test_the_console_uploads_pictures_files_products_and_manages_banners(
    browser: Browser, site: Site
) -> None:
    browser.login(TENANT, demo.ADMIN_EMAIL)
    products = browser.get(f"/{TENANT}/admin/products")
    assert 'data-testid="product-media"' in products.text
    product = re.search(r'id="media-(prd_[0-9a-z]+)"', products.text)
    assert product is not None
    pid = product.group(1)
    action = f"/{TENANT}/admin/products/{pid}/images"
    before = _counts(site)
    refused = browser.post(
        action,
        hidden_fields(products.text, action),
        files={"file": ("x.png", b"not a picture", "image/png")},
    )
    assert refused.status_code == 422
    assert field_error(refused.text, "file") is not None
    assert _counts(site) == before
    added = browser.post(
        action, hidden_fields(products.text, action), files={"file": ("x.png", _png(), "image/png")}
    )
    assert added.status_code == 303
    assert _counts(site)[0] == before[0] + 1
    # Categories and banners (admins).
    page = f"/{TENANT}/admin/storefront"
    assert browser.get(page).status_code == 200
    create = f"/{TENANT}/admin/categories"
    made = browser.submit(page, create, {"name": "礼盒"})
    assert made.status_code == 303
    dup = browser.submit(page, create, {"name": "礼盒"})
    assert dup.status_code == 409
    assert field_error(dup.text, "name") is not None
    banner = f"/{TENANT}/admin/banners"
    fields = browser.form(page, banner)
    bad_link = browser.post(
        banner,
        {**fields, "title": "x", "link": "javascript:alert(1)"},
        files={"file": ("b.png", _png((900, 300)), "image/png")},
    )
    assert bad_link.status_code == 422
    assert field_error(bad_link.text, "link") is not None
    counted = _counts(site)
    ok = browser.post(
        banner,
        {**browser.form(page, banner), "title": "礼盒上新", "link": f"/{TENANT}/"},
        files={"file": ("b.png", _png((900, 300)), "image/png")},
    )
    assert ok.status_code == 303
    assert _counts(site)[2] == counted[2] + 1
    home = browser.get(f"/{TENANT}/")
    assert "礼盒上新" in home.text
    assert "礼盒" in home.text
    listing = browser.get(page).text
    delete = re.findall(rf'action="(/{TENANT}/admin/banners/bnr_[0-9a-z]+/delete)"', listing)[-1]
    assert browser.submit(page, delete, {}).status_code == 303
    assert _counts(site)[2] == counted[2]
    # A merchant may not manage the storefront page.
    other = Browser(site.base_url)
    other.login(TENANT, MERCHANT)
    assert other.get(page).status_code == 403
    other.close()


def test_console_orders_show_names_and_translated_statuses_ids_second(browser: Browser) -> None:
    browser.login(TENANT, demo.ADMIN_EMAIL)
    listed = browser.get(f"/{TENANT}/admin/orders")
    table = listed.text.split('data-testid="order-list"', 1)[1]
    first = re.search(r'<td><a href="(/[^"]+/admin/orders/(ord_[0-9a-z]+))">([^<]+)</a><br>', table)
    assert first is not None, table[:1500]
    assert not first.group(3).startswith("ord_")  # a product's title, the id beneath
    order = browser.get(first.group(1))
    payments = order.text.split("<h3>", 1)[1]
    assert ">succeeded<" not in payments
    assert ">sandbox<" not in payments
    # Which demo order is first depends on the time of day; its payment's status is in words.
    shown = re.search(r'<span class="status status-[a-z_]+">([^<]+)</span>', payments)
    assert shown is not None, payments[:3000]
    assert shown.group(1) in {"待支付", "支付成功", "支付失败", "已退回", "已关闭"}, shown.group(1)
    assert "沙箱支付" in payments
