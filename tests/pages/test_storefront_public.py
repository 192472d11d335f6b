"""The shop window is public (a shared product link opens without an account; buying asks for
one and comes back), the site's root leads to a mall, and staff land on their console."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from pages_helpers import PASSWORD, Browser, Site

from served import app_settings, served
from tokenmall.demo import living as demo

TENANT = demo.TENANT_ID
CONSUMER = demo.CONSUMERS[0][0]


def _a_product(browser: Browser) -> str:
    home = browser.get(f"/{TENANT}/")
    found = re.search(rf'href="/{TENANT}/products/(prd_[0-9a-z]+)"', home.text)
    assert found is not None, home.text[:500]
    return found.group(1)


def test_a_product_link_opens_without_login_and_buying_comes_back_to_it(
    browser: Browser,
) -> None:
    product = _a_product(browser)
    page = browser.get(f"/{TENANT}/products/{product}")
    assert page.status_code == 200
    assert "由 醇香酒庄 销售" in page.text
    assert "¥100.00" in page.text
    reward = re.search(
        r"买这件得约 ([\d,.]+) 增值积分（按当前价，约值 ¥([\d,.]+)），分红额度 \+¥([\d,.]+)",
        page.text,
    )
    assert reward is not None, page.text[:3000]
    assert float(reward.group(1).replace(",", "")) > 0  # float-ok: a display check
    assert reward.group(3) == "200.00"  # the quota: 2 x the 100.00 paid
    assert "当前底池 ¥" in page.text
    assert "不承诺任何收益" in page.text
    assert 'data-testid="add-to-cart"' not in page.text
    login = re.search(r'href="(/[^"]+/login\?next=[^"]+)"', page.text)
    assert login is not None
    assert "登录后购买" in page.text
    target = login.group(1).replace("&amp;", "&")
    fields = browser.form(target)
    answer = browser.post(f"/{TENANT}/login", {**fields, "email": CONSUMER, "password": PASSWORD})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/{TENANT}/products/{product}"
    assert 'data-testid="add-to-cart"' in browser.get(answer.headers["location"]).text


def test_an_inactive_product_stays_hidden_from_visitors(browser: Browser) -> None:
    assert browser.get(f"/{TENANT}/products/prd_nope").status_code == 404
    assert browser.get("/no-such-tenant/products/prd_nope").status_code == 404


def test_the_root_lists_the_malls(browser: Browser) -> None:
    root = browser.get("/")
    assert root.status_code == 200
    assert f'href="/{TENANT}/"' in root.text
    assert "不承诺任何收益" in root.text


def test_staff_land_on_their_console_after_login(
    browser: Browser, another_browser: Browser
) -> None:
    admin = demo.ADMIN_EMAIL
    fields = browser.form(f"/{TENANT}/login")
    answer = browser.post(f"/{TENANT}/login", {**fields, "email": admin, "password": PASSWORD})
    assert answer.headers["location"] == f"/{TENANT}/admin/"
    # a page the admin asked for still wins
    fields = another_browser.form(f"/{TENANT}/login?next=/{TENANT}/me")
    answer = another_browser.post(
        f"/{TENANT}/login", {**fields, "email": admin, "password": PASSWORD}
    )
    assert answer.headers["location"] == f"/{TENANT}/me"


@pytest.fixture(scope="module")
def home_site(site: Site) -> Iterator[Any]:
    settings = app_settings(site.app.state.settings.database_url, home_tenant=TENANT)
    with served(settings) as (base, _app):
        yield base


def test_a_deployments_home_mall_opens_at_the_root(home_site: str) -> None:
    b = Browser(home_site)
    try:
        root = b.get("/")
        assert root.status_code == 303
        assert root.headers["location"] == f"/{TENANT}/"
    finally:
        b.close()


def test_a_favicon_for_every_page(browser: Browser) -> None:
    icon = browser.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.text.startswith("<svg")
    for path in ("/", f"/{TENANT}/", f"/{TENANT}/login"):
        assert 'rel="icon"' in browser.get(path).text, path


def test_every_page_shows_one_clock_beijing_time() -> None:
    from datetime import UTC, date, datetime

    from tokenmall.web.pages.i18n import Fmt

    fmt = Fmt("zh_CN")
    instant = datetime(2026, 12, 4, 14, 32, 5, tzinfo=UTC)
    assert fmt.date(instant) == "2026-12-04 22:32"
    assert fmt.date(instant.replace(tzinfo=None)) == "2026-12-04 22:32"  # stored naive: UTC
    assert fmt.seconds(datetime(2026, 12, 4, 20, 0, 1, tzinfo=UTC)) == "2026-12-05 04:00:01"
    assert fmt.date(date(2026, 12, 4)) == "2026-12-04"
    assert fmt.date(None) == "—"
