"""In real headless Chromium on a 375-px phone, in Chinese: the mall's home with its banner,
category tabs and search box, a search and a category's tab, a product page with its
pictures, buy now (login first, then straight to checkout with that item) and the share
poster, then the sandbox's payment page in Chinese; no page scrolls sideways and none logs a
console error. Screenshots go to out/artifacts/screenshots/ (storefront-*)."""

from __future__ import annotations

import re
from typing import Any

from browser_helpers import Site, shot

from tokenmall.demo import living as demo

TENANT = demo.TENANT_ID
CONSUMER = demo.CONSUMERS[0][0]


def _fits(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, page.url


def _pictures_loaded(page: Any, selector: str) -> int:
    """How many of the matched images decoded with a real size (a broken one has 0)."""
    return int(
        page.evaluate(
            f"Array.from(document.querySelectorAll('{selector}'))"
            ".filter(i => i.complete && i.naturalWidth > 0).length"
        )
    )


def test_home_search_product_and_buy_now_on_a_phone(phone: Any, site: Site) -> None:
    page = phone
    errors: list[str] = []
    page.on(
        "console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{site.base_url}/{TENANT}/")
    assert page.locator('[data-testid="banners"] img').count() == 1
    page.locator('[data-testid="banners"] img').first.scroll_into_view_if_needed()
    assert _pictures_loaded(page, '[data-testid="banners"] img') == 1
    tabs = page.locator('[data-testid="categories"] a')
    assert tabs.count() == 4  # all, and the three shelves
    page.locator('[data-testid="products"] img').last.scroll_into_view_if_needed()
    page.wait_for_load_state("networkidle")
    assert _pictures_loaded(page, '[data-testid="products"] img') == 5
    _fits(page)
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "storefront-home")
    # Search, in Chinese.
    page.fill('input[name="q"]', "醒酒器")
    page.press('input[name="q"]', "Enter")
    page.wait_for_url(re.compile(r"\?q="))
    assert page.locator('[data-testid="products"] li').count() == 1
    _fits(page)
    shot(page, "storefront-search")
    # A category's tab.
    page.goto(f"{site.base_url}/{TENANT}/")
    page.click('[data-testid="categories"] a:has-text("酒具")')
    page.wait_for_url(re.compile(r"\?category=cat_"))
    assert page.locator('[data-testid="products"] li').count() == 2
    _fits(page)
    # A product page: its pictures, buy now, the poster.
    page.goto(f"{site.base_url}/{TENANT}/?q=干红")
    page.click('[data-testid="products"] a')
    page.wait_for_url(re.compile(r"/products/prd_"))
    page.wait_for_load_state("networkidle")
    assert _pictures_loaded(page, '[data-testid="gallery"] img') >= 1
    assert page.locator('[data-testid="buy-now"] button').first.is_visible()
    _fits(page)
    shot(page, "storefront-product")
    poster = page.locator('[data-testid="poster-link"]').get_attribute("href")
    assert poster is not None
    answer = page.request.get(f"{site.base_url}{poster}")
    assert answer.status == 200
    assert answer.headers["content-type"] == "image/png"
    page.click('[data-testid="buy-now"] button')
    page.wait_for_url(re.compile(r"/login\?next="))
    _fits(page)
    page.fill('input[name="email"]', CONSUMER)
    page.fill('input[name="password"]', demo.PASSWORD)
    page.click('form[action$="/login"] button[type="submit"]')
    page.wait_for_url(re.compile(r"/checkout\?sku=sku_"))
    assert page.locator('[data-testid="buy-now-note"]').is_visible()
    assert "醇香干红葡萄酒" in page.content()
    _fits(page)
    shot(page, "storefront-buy-now-checkout")
    page.click('[data-testid="place-order"]')
    page.wait_for_url(re.compile(r"/sandbox/pay/"))
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("button:has-text('确认支付')").is_visible()
    _fits(page)
    shot(page, "storefront-sandbox-payment")
    assert errors == [], errors
