"""The storefront's per-worker snapshots (``web/pages/snapshots.py``): a price or stock change
shows on the home and product pages within the snapshot's lifetime when another process made
it, at once when this one did; signed-in members never see one another's data."""

from __future__ import annotations

import re
import time
from typing import Any

from pages_helpers import Browser, Site

from tokenmall.demo import living as demo
from tokenmall.web.pages import snapshots
from tokenmall.web.pages.snapshots import Snapshots

TENANT = demo.TENANT_ID


def _product_and_sku(site: Site) -> tuple[str, str, int, int]:
    """The demo's first active product with one option: product id, SKU id, price, stock."""
    engine = site.app.state.database.engine
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(
            "SELECT s.product_id, s.sku_id, s.price_fen, s.stock FROM mall_skus s "
            "JOIN mall_products p ON p.tenant_id = s.tenant_id AND p.product_id = s.product_id "
            f"WHERE s.tenant_id = '{TENANT}' AND p.status = 'active' "
            "ORDER BY s.product_id, s.sku_id"
        )
        rows = cur.fetchall()
        raw.rollback()
    finally:
        raw.close()
    counts: dict[str, int] = {}
    for row in rows:
        counts[row[0]] = counts.get(row[0], 0) + 1
    product, sku, price, stock = next(r for r in rows if counts[r[0]] == 1)
    return str(product), str(sku), int(price), int(stock)


def _set_behind_the_apps_back(site: Site, sku: str, price: int, stock: int) -> None:
    """As another worker would: committed on the driver's own connection, so no SQLAlchemy
    commit event of this process sees it."""
    raw = site.app.state.database.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(
            f"UPDATE mall_skus SET price_fen = {int(price)}, stock = {int(stock)} "
            f"WHERE tenant_id = '{TENANT}' AND sku_id = '{sku}'"
        )
        raw.commit()
    finally:
        raw.close()


def _money(fen: int) -> str:
    return f"¥{fen // 100:,}.{fen % 100:02d}"


def _stock_shown(page: str, stock: int) -> bool:
    return f'<td class="num">{stock:,}</td>' in page


def test_a_change_by_another_worker_shows_within_the_lifetime(site: Site, browser: Browser) -> None:
    product, sku, price, stock = _product_and_sku(site)
    path = f"/{TENANT}/products/{product}"
    assert _money(price) in browser.get(path).text
    assert _money(price) in browser.get(f"/{TENANT}/").text  # both snapshots taken
    new_price, new_stock = price + 1_23, stock + 4_321
    _set_behind_the_apps_back(site, sku, new_price, new_stock)
    changed = time.monotonic()
    try:
        seen: dict[str, float] = {}  # float-ok: time
        while len(seen) < 2 and time.monotonic() - changed < snapshots.LIFETIME + 5:
            page = browser.get(path).text
            if "product" not in seen and _money(new_price) in page:
                assert _stock_shown(page, new_stock)
                seen["product"] = time.monotonic() - changed
            if "home" not in seen and _money(new_price) in browser.get(f"/{TENANT}/").text:
                seen["home"] = time.monotonic() - changed
            time.sleep(0.05)
        # Within the lifetime, plus the time a loaded machine takes to answer a page.
        assert set(seen) == {"product", "home"}, seen
    finally:
        _set_behind_the_apps_back(site, sku, price, stock)


def test_a_change_through_this_worker_shows_on_the_very_next_page(
    site: Site, browser: Browser
) -> None:
    product, sku, price, stock = _product_and_sku(site)
    path = f"/{TENANT}/products/{product}"
    site.app.state.snapshots.clear()  # an earlier test's change behind the app's back
    assert _money(price) in browser.get(path).text
    assert _money(price) in browser.get(f"/{TENANT}/").text
    with site.app.state.database.transaction() as conn:
        conn.exec_driver_sql(
            f"UPDATE mall_skus SET price_fen = {price + 7}, stock = {stock + 9} "
            f"WHERE tenant_id = '{TENANT}' AND sku_id = '{sku}'"
        )
    try:
        page = browser.get(path).text
        assert _money(price + 7) in page
        assert _stock_shown(page, stock + 9)
        assert _money(price + 7) in browser.get(f"/{TENANT}/").text
    finally:
        with site.app.state.database.transaction() as conn:
            conn.exec_driver_sql(
                f"UPDATE mall_skus SET price_fen = {price}, stock = {stock} "
                f"WHERE tenant_id = '{TENANT}' AND sku_id = '{sku}'"
            )


def _invite_of(browser: Browser) -> str:
    found = re.search(r"register\?invite=([A-Z0-9]+)", browser.get(f"/{TENANT}/me").text)
    assert found is not None
    return found.group(1)


def test_signed_in_members_never_see_one_anothers_data(
    site: Site, browser: Browser, another_browser: Browser
) -> None:
    first, second = demo.CONSUMERS[0][0], demo.CONSUMERS[1][0]
    browser.login(TENANT, first)
    another_browser.login(TENANT, second)
    mine, theirs = _invite_of(browser), _invite_of(another_browser)
    assert mine != theirs
    visitor = Browser(site.base_url)
    try:
        product = _product_and_sku(site)[0]
        for _ in range(5):  # alternately, all within one snapshot's lifetime
            for path in (f"/{TENANT}/products/{product}", f"/{TENANT}/"):
                one, two = browser.get(path).text, another_browser.get(path).text
                anon = visitor.get(path).text
                if "products" in path:
                    assert f"invite={mine}" in one
                    assert f"invite={theirs}" in two
                assert theirs not in one
                assert mine not in two
                assert mine not in anon
                assert theirs not in anon
                for page in (one, two):
                    assert f'href="/{TENANT}/wallet"' in page
                assert f'href="/{TENANT}/wallet"' not in anon
                assert f'href="/{TENANT}/login"' in anon
    finally:
        visitor.close()


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0  # float-ok: time

    def __call__(self) -> float:  # float-ok: time
        return self.now


def test_a_snapshot_lives_its_lifetime_and_no_commit_longer() -> None:
    clock = _Clock()
    kept = Snapshots(1.0, clock=clock)
    reads: list[int] = []

    def load() -> Any:
        reads.append(1)
        return len(reads)

    assert kept.get("k", load) == 1
    clock.now += 0.9
    assert kept.get("k", load) == 1  # still fresh
    clock.now += 0.2
    assert kept.get("k", load) == 2  # older than the lifetime: read again
    snapshots._committed(None)  # type: ignore[arg-type]  (any commit in the process)
    assert kept.get("k", load) == 3

    def overlapping() -> Any:
        snapshots._committed(None)  # type: ignore[arg-type]  (a commit while it is read)
        return "read before the commit"

    assert kept.get("other", overlapping) == "read before the commit"
    assert kept.get("other", lambda: "read again") == "read again"  # the first was not kept


def test_a_logout_ends_the_members_storefront_pages_at_once(site: Site, browser: Browser) -> None:
    browser.login(TENANT, demo.CONSUMERS[2][0])
    token = browser.http.cookies.get("tokenmall_session")
    assert token
    assert f'href="/{TENANT}/wallet"' in browser.get(f"/{TENANT}/").text  # the member kept
    home = browser.get(f"/{TENANT}/me").text
    fields = {
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', home).group(1)  # type: ignore[union-attr]
    }
    assert browser.post(f"/{TENANT}/logout", fields).status_code == 303
    stale = Browser(site.base_url)
    try:
        stale.http.cookies.set("tokenmall_session", token)
        page = stale.get(f"/{TENANT}/").text
        assert f'href="/{TENANT}/wallet"' not in page
        assert f'href="/{TENANT}/login"' in page
    finally:
        stale.close()
