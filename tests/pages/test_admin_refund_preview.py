"""The admin's order page shows what approving a refund of a booked order would take back
(economy.md rule 9), figure by figure, before the admin approves; showing it changes nothing."""

from __future__ import annotations

import re

from pages_helpers import Browser, Site
from test_pages import snapshot

from tokenmall.adapters.db.mall import orders as orders_repo
from tokenmall.adapters.db.mall import refunds as refunds_repo
from tokenmall.demo import living as demo
from tokenmall.domain.mall.orders import Order
from tokenmall.services.mall import order_refunds
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import utc_now

TENANT = demo.TENANT_ID


def _booked_received_order(site: Site) -> Order:
    with site.app.state.database.read() as conn:
        found = orders_repo.list_orders(
            conn, TENANT, user_id=None, merchant_id=None, status="received", after=None, limit=200
        )
        free = [
            o
            for o in found
            if o.rewards_booked
            and not any(
                r.status == "requested" for r in refunds_repo.refunds_of(conn, TENANT, o.order_id)
            )
        ]
    assert free, "no booked received order in the demo"
    return free[0]


def test_the_order_page_shows_a_booked_refunds_reversal_before_approval(
    site: Site, browser: Browser
) -> None:
    browser.login(TENANT, demo.ADMIN_EMAIL)
    booked = _booked_received_order(site)
    buyer = Principal("session", "test", booked.user_id, TENANT, "consumer")
    with site.app.state.database.unit() as uow:
        order_refunds.request_refund(uow, buyer, TENANT, booked.order_id, "r", utc_now())
    before = snapshot(site)
    page = browser.get(f"/{TENANT}/admin/orders/{booked.order_id}")
    assert page.status_code == 200
    table = re.search(r'data-testid="refund-preview">(.*?)</table>', page.text, re.S)
    assert table is not None, page.text[:3000]
    rows = re.findall(r"<tr><td>(.*?)</td><td>([0-9.]+)</td>", table.group(1))
    assert rows  # one row per holder the order rewarded: points to burn, debts
    assert snapshot(site) == before  # showing the preview changes nothing
