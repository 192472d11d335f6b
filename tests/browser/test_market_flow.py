"""In real headless Chromium on a 375-px phone, in Chinese: a collector opens a collection's
market page, sees the daily K-line drawn by the vendored chart library (its canvas) next to the
candles' table, types a price and sees the preview of fee, royalty and what they receive, lists
the token, and finds the listing in the depth table and in their orders. Screenshots go to
out/artifacts/screenshots/.

Trades are written straight into ``market_trades`` (taking a listing is the next slice), so the
chart has candles to draw."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from browser_helpers import Site, shot, wait_until

from nfg_tokens import consumers, make_collection
from served import app_settings, served
from tokenmall.adapters.db.market.store import CollectionSettings
from tokenmall.adapters.db.market.trades import TradeRow
from tokenmall.demo import living as demo
from tokenmall.domain.nfg.records import Collection
from tokenmall.services.mall.uow import utc_now

T = demo.TENANT_ID
SELLER = "li.na@wine.demo"


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, Collection]]:
    folder = tmp_path_factory.mktemp("market")
    with served(app_settings(f"sqlite:///{folder / 'tokenmall.db'}")) as (base, app):
        db, config = app.state.database, app.state.log_config
        demo.seed(db, base_url=base, days=2)
        first, second = consumers(db, T)
        assert first.email == SELLER
        collection = make_collection(db, config, T, [first.user_id], name="醇香 2019 编号酒")
        now = utc_now()
        with db.unit() as unit:
            unit.market.put_collection(
                CollectionSettings(T, collection.collection_id, fee_ppm=20_000, royalty_ppm=50_000),
                now,
            )
            for n, (days, price) in enumerate(((3, 10_000), (3, 11_500), (2, 10_800), (1, 12_000))):
                day = (now - timedelta(days=days)).date()
                unit.market.add_trade(
                    TradeRow(
                        T, 900_000_000 + n, 0, None, "take", collection.collection_id, 1,
                        second.user_id, first.user_id, "platform", price, 0, 0, day, 0, None,
                        False, None, datetime(day.year, day.month, day.day, 3, n, tzinfo=UTC),
                    )
                )  # fmt: skip
        yield Site(base, app), collection


def test_a_collector_sees_the_k_line_and_lists_a_token(
    phone: Any, market: tuple[Site, Collection]
) -> None:
    site, collection = market
    errors: list[str] = []
    phone.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    phone.goto(f"{site.base_url}/{T}/login")
    phone.fill("#f-email", SELLER)
    phone.fill("#f-password", demo.PASSWORD)
    phone.click("button[type=submit] >> nth=-1")
    phone.wait_for_url(lambda url: "/login" not in url)
    phone.goto(f"{site.base_url}/{T}/market")
    phone.click(f'[data-collection-id="{collection.collection_id}"] a')
    page = f"/{T}/market/{collection.collection_id}"
    phone.wait_for_url(re.compile(rf"{page}$"))

    # The chart: the vendored library drew candlesticks on a canvas; the table has 3 days.
    wait_until(phone, "document.documentElement.dataset.klineDrawn === '1'")
    assert phone.locator("#kline-chart canvas").count() >= 1
    box = phone.locator("#kline-chart").bounding_box()
    assert box is not None
    assert box["width"] > 200
    assert box["height"] > 100
    assert phone.locator('[data-testid="candle"]').count() == 3
    assert phone.locator('[data-testid="last-price"]').inner_text() == "¥120.00"
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    shot(phone, "market-collection")

    # The preview as the price is typed (HTMX), then the listing.
    phone.click('[data-testid="open-list-1"] summary')
    form = phone.locator('[data-testid="act-list"]')
    phone.fill("#f-pricelist-1", "130.50")
    form.locator('[data-testid="pv-proceeds"]').wait_for()
    assert form.locator('[data-testid="pv-fee"]').inner_text() == "¥2.61"  # floor(13050 × 2%)
    assert form.locator('[data-testid="pv-royalty"]').inner_text() == "¥6.52"
    assert form.locator('[data-testid="pv-proceeds"]').inner_text() == "¥121.37"
    shot(phone, "market-list-preview")
    form.locator('[data-testid="list-submit"]').click()
    phone.wait_for_url(re.compile(rf"{page}\?done=listed$"))
    assert phone.locator('[data-testid="floor"]').inner_text() == "¥130.50"
    assert "¥130.50" in phone.locator('[data-testid="asks"]').inner_text()
    assert phone.locator('[data-testid="act-list"]').count() == 0
    phone.goto(f"{site.base_url}/{T}/market/orders")
    order = phone.locator('[data-testid="order"]').first
    assert order.get_attribute("data-status") == "open"
    assert "¥130.50" in order.inner_text()
    shot(phone, "market-orders")
    assert not [e for e in errors if "Content Security Policy" in e], errors
