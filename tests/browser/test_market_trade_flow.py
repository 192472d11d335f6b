"""In real headless Chromium on a 375-px phone, in Chinese: a collector pays market cash in
through the sandbox gateway, places a bid (seeing the preview of fee, royalty and what the
seller receives as the price is typed, through HTMX), buys a listing from its buy form, then
accepts an agreement offered to them on their orders page. Every page fits the phone's width
and the console stays free of errors (a Content-Security-Policy refusal after an HTMX swap
included). Screenshots go to out/artifacts/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from browser_helpers import Site, shot

from nfg_tokens import consumers, make_collection
from served import app_settings, served
from tokenmall.adapters.db.market.store import CollectionSettings
from tokenmall.demo import living as demo
from tokenmall.domain.mall.people import Role
from tokenmall.domain.nfg.records import Collection
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import utc_now
from tokenmall.services.market import orders

T = demo.TENANT_ID
SELLER = "li.na@wine.demo"
BUYER = "wang.wei@wine.demo"


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, Collection]]:
    """The seller's two tokens: one listed at 130.00, one offered to the buyer at 60.00."""
    folder = tmp_path_factory.mktemp("market_trade")
    with served(app_settings(f"sqlite:///{folder / 'tokenmall.db'}")) as (base, app):
        db, config = app.state.database, app.state.log_config
        demo.seed(db, base_url=base, days=2)
        seller, buyer = consumers(db, T)
        assert (seller.email, buyer.email) == (SELLER, BUYER)
        c = make_collection(db, config, T, [seller.user_id] * 2, name="醇香 2021 编号酒")
        who = Principal("session", "ses_test", seller.user_id, T, Role.CONSUMER)
        now = utc_now()
        with db.unit() as unit:
            unit.market.put_collection(
                CollectionSettings(T, c.collection_id, fee_ppm=20_000, royalty_ppm=50_000), now
            )
        with db.unit() as unit:
            orders.list_token(unit, who, T, c.collection_id, 1, 13_000, now=now, config=config)
            orders.offer(unit, who, T, c.collection_id, 2, buyer.user_id, 6_000, now=now,
                         config=config)  # fmt: skip
        yield Site(base, app), c


def _fits(phone: Any) -> None:
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375, phone.url


def test_a_collector_deposits_bids_buys_and_accepts_on_a_phone(
    phone: Any, market: tuple[Site, Collection]
) -> None:
    site, collection = market
    errors: list[str] = []
    phone.on("console", lambda m: errors.append(f"{phone.url} {m.location} {m.text}")
             if m.type == "error" else None)  # fmt: skip
    phone.on("pageerror", lambda e: errors.append(str(e)))
    phone.goto(f"{site.base_url}/{T}/login")
    phone.fill("#f-email", BUYER)
    phone.fill("#f-password", demo.PASSWORD)
    phone.click("button[type=submit] >> nth=-1")
    phone.wait_for_url(lambda url: "/login" not in url)

    # Market cash through the sandbox gateway.
    phone.goto(f"{site.base_url}/{T}/market")
    phone.click('[data-testid="market-cash-link"]')
    phone.wait_for_url(re.compile(rf"/{T}/market/cash$"))
    _fits(phone)
    phone.fill("#f-amount", "500")
    phone.click('[data-testid="deposit-submit"]')
    phone.wait_for_url(re.compile(r"/sandbox/pay/"))
    phone.click("button:has-text('确认支付')")
    phone.locator("#status .tag.succeeded").wait_for()
    phone.goto(f"{site.base_url}/{T}/market/cash")
    assert phone.locator('[data-testid="deposit-row"]').first.get_attribute("data-status") == "paid"
    shot(phone, "market-cash")

    # A bid below the listing: the preview as the price is typed (HTMX), then it rests.
    page = f"/{T}/market/{collection.collection_id}"
    phone.goto(f"{site.base_url}{page}")
    _fits(phone)
    phone.click('[data-testid="open-bid"] summary')
    form = phone.locator('[data-testid="act-bid"]')
    phone.fill("#f-pricebid", "100.50")
    form.locator('[data-testid="pv-proceeds"]').wait_for()
    assert form.locator('[data-testid="pv-fee"]').inner_text() == "¥2.01"  # floor(10050 × 2%)
    assert form.locator('[data-testid="pv-royalty"]').inner_text() == "¥5.02"
    assert form.locator('[data-testid="pv-proceeds"]').inner_text() == "¥93.47"
    _fits(phone)
    shot(phone, "market-bid-preview")
    form.locator('[data-testid="bid-submit"]').click()
    phone.wait_for_url(re.compile(rf"{page}\?done=bid$"))
    assert phone.locator('[data-testid="highest-bid"]').inner_text() == "¥100.50"
    _fits(phone)

    # Buy the listing: its split shown in its form, before paying.
    listing = phone.locator('[data-testid="listing"]').first
    listing.locator("summary").click()
    take = listing.locator('[data-testid="act-take"]')
    assert take.locator('[data-testid="pv-price"]').inner_text() == "¥130.00"
    assert take.locator('[data-testid="pv-proceeds"]').inner_text() == "¥120.90"
    _fits(phone)
    shot(phone, "market-take")
    take.locator('[data-testid="take-submit"]').click()
    phone.wait_for_url(re.compile(rf"{page}\?done=bought$"))
    assert phone.locator('[data-testid="no-listings"]').count() == 1
    assert phone.locator('[data-testid="my-token"][data-serial="1"]').count() == 1
    _fits(phone)

    # The agreement offered to them: accept it on the orders page.
    phone.goto(f"{site.base_url}/{T}/market/orders")
    offer = phone.locator('[data-testid="offer-to-me"]').first
    assert "李娜" in offer.inner_text()
    assert offer.locator('[data-testid="pv-price"]').inner_text() == "¥60.00"
    _fits(phone)
    shot(phone, "market-offers-to-me")
    offer.locator('[data-testid="offer-accept"] button').click()
    phone.wait_for_url(re.compile(r"/market/orders\?done=accepted$"))
    assert phone.locator('[data-testid="offer-to-me"]').count() == 0
    assert phone.locator('[data-testid="no-offers"]').count() == 1
    _fits(phone)
    phone.goto(f"{site.base_url}{page}")
    assert phone.locator('[data-testid="my-token"]').count() == 2
    assert not errors, "\n".join(errors)
