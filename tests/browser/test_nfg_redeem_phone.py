"""In real headless Chromium on a 375-px phone, in Chinese: a holder redeems (提货) a numbered
bottle of the demo's vintage from their collection, the token locked; the redemption is a mall
order in "my orders", paid by the token, with Chinese status words (the catalogue's, never the
raw ``paid`` or ``redeeming``), and no page of the flow is wider than the phone."""

from __future__ import annotations

import re
from typing import Any

import pytest
from browser_helpers import Site, shot

from tokenmall.demo import living as demo
from tokenmall.demo import nfg as demo_nfg
from tokenmall.domain.nfg.records import TokenState
from tokenmall.web.pages.i18n import translations

T = demo.TENANT_ID
HOLDER = "li.na@wine.demo"
TOKEN = f"{demo_nfg.VINTAGE_ID}/1"  # li.na's bottle, held


@pytest.fixture(scope="module")
def collections(site: Site) -> Site:
    demo_nfg.seed(site.app.state.database, site.app.state.log_config, base_url=site.base_url)
    return site


def _state(site: Site) -> TokenState:
    with site.app.state.database.reading() as unit:
        token = unit.nfg.get_token(T, demo_nfg.VINTAGE_ID, 1)
    assert token is not None
    return token.state


def _fits(phone: Any, where: str) -> None:
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, (where, width)


def _no_ascii_words(texts: list[str], where: str) -> None:
    for text in texts:
        assert not re.search(r"[A-Za-z]", text), (where, text)


def test_a_holder_redeems_a_bottle_and_sees_it_in_my_orders(collections: Site, phone: Any) -> None:
    site = collections
    zh = translations("zh_CN")
    assert _state(site) == TokenState.HELD
    phone.goto(f"{site.base_url}/{T}/login")
    phone.fill("#f-email", HOLDER)
    phone.fill("#f-password", demo.PASSWORD)
    phone.click("button[type=submit] >> nth=-1")
    # The login page's own URL matches "/{T}/" too: wait until the sign-in has left it.
    phone.wait_for_url(lambda url: f"/{T}/" in url and "/login" not in url)

    phone.goto(f"{site.base_url}/{T}/nfg/redeem")
    bottle = phone.locator(f"[data-token='{TOKEN}']")
    assert bottle.locator("[data-testid=token-state]").inner_text() == zh.gettext("held")
    _fits(phone, "collection")
    chosen = bottle.locator("select[name=address_id]").input_value()
    assert chosen.startswith("adr_")  # the default address, chosen for the holder
    bottle.locator("[data-testid=redeem]").click()
    phone.locator("[data-testid=redeemed]").wait_for()
    assert _state(site) == TokenState.REDEEMING
    bottle = phone.locator(f"[data-token='{TOKEN}']")
    state = bottle.locator("[data-testid=token-state]").inner_text()
    assert state == zh.gettext("redeeming") != "redeeming"
    _no_ascii_words(phone.locator(".tag").all_inner_texts(), "collection")
    _fits(phone, "collection after redeeming")
    shot(phone, "nfg-redeem-375")

    phone.goto(f"{site.base_url}/{T}/orders")
    mine = phone.locator(
        "[data-testid=orders] li", has=phone.locator("[data-testid=order-redemption]")
    )
    assert mine.count() >= 1
    first = mine.first
    assert first.locator(".tag").inner_text() == zh.gettext("order_paid") == "已付款"
    assert "¥0.00" in first.inner_text()
    _no_ascii_words(phone.locator("[data-testid=orders] .tag").all_inner_texts(), "my orders")
    _fits(phone, "my orders")
    shot(phone, "nfg-redeem-my-orders-375")

    first.locator("a.line-link").click()
    phone.wait_for_url(re.compile(rf"/{T}/orders/ord_"))
    assert phone.locator("[data-testid=order-status]").inner_text() == "已付款"
    history = phone.locator("[data-testid=history]").inner_text()
    assert zh.gettext("paid by the collectible") in history
    assert "paid by the token" not in history
    assert TOKEN in phone.locator("[data-testid=order-redemption]").inner_text()
    _fits(phone, "the order")
    shot(phone, "nfg-redeem-order-375")
