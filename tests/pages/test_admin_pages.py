"""The admin console's operations pages over real HTTP, without JavaScript (SQLite and
PostgreSQL): orders and refunds, settings, withdrawal approvals, settlements, audit, and the
tenant admin's own parameter change. Every page renders for an admin, is refused for a consumer
and a merchant, and shows nothing of the tenant to another tenant; every form refuses bad input
with the message next to the field and changes nothing (every table compared before/after)."""

from __future__ import annotations

import re
from datetime import UTC, timedelta

# The module's own site (one day left unsettled), in place of conftest's.
from admin_site import (
    CONSUMER,
    PAGES,
    TENANT,
    admin,
    console_site,  # noqa: F401
    order_in,
    withdrawal,
    withdrawal_status,
)
from pages_helpers import PASSWORD, Browser, Site, field_error
from sqlalchemy import select
from test_pages import no_traceback, params_version, snapshot

from tokenmall.adapters.db.mall import orders as orders_repo
from tokenmall.demo import living as demo
from tokenmall.services.mall import settling, tenants, withdrawals
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now

# --- roles and tenants ---


def test_every_console_page_renders_for_an_admin_only(site: Site, browser: Browser) -> None:
    order = order_in(site, "received")
    pages = (*PAGES, f"/admin/orders/{order.order_id}")
    assert browser.get(f"/{TENANT}/admin/orders").headers["location"].startswith(f"/{TENANT}/login")
    browser.login(TENANT, demo.ADMIN_EMAIL)
    for path in pages:
        answer = browser.get(f"/{TENANT}{path}")
        assert answer.status_code == 200, (path, answer.text[:2000])
        no_traceback(answer)
        assert "<h1>" in answer.text
    for path in ("/admin/orders?status=nonsense", "/admin/withdrawals?status=nonsense"):
        answer = browser.get(f"/{TENANT}{path}")
        assert answer.status_code == 422, path
        no_traceback(answer)
    assert browser.get(f"/{TENANT}/admin/orders/ord_nothing").status_code == 404
    for email in (CONSUMER, demo.MERCHANTS[0][0]):
        other = Browser(site.base_url)
        try:
            other.login(TENANT, email)
            for path in pages:
                if email != CONSUMER and path.startswith("/admin/orders"):
                    continue  # a merchant's own orders: see the test below
                answer = other.get(f"/{TENANT}{path}")
                assert answer.status_code == 403, (email, path, answer.status_code)
                no_traceback(answer)
        finally:
            other.close()


def test_another_tenant_sees_nothing_of_this_one(site: Site, another_browser: Browser) -> None:
    from tokenmall.adapters.db.mall import people as people_repo

    with site.app.state.database.transaction() as conn:
        found = people_repo.operator_login_row(conn, demo.OPERATOR_EMAIL)
        assert found is not None
        operator = Principal("operator_session", "test", found[0], None, None)
        tenants.create(
            MallUnitOfWork.joining(conn),
            operator,
            tenants.NewTenant(
                tenant_id="beer",
                name="麦香啤酒",
                preset="default",
                params={},
                admin_email="boss@beer.demo",
                admin_password=PASSWORD,
                admin_display_name="",
            ),
            utc_now(),
        )
    order = order_in(site, "paid")
    pending = withdrawal(site, demo.CONSUMERS[3][0], "1.00")
    another_browser.login("beer", "boss@beer.demo")
    for path in PAGES:
        assert another_browser.get(f"/beer{path}").status_code == 200, path
        # Wine's pages ask beer's admin for a wine login: they are nobody there.
        answer = another_browser.get(f"/{TENANT}{path}")
        assert answer.status_code == 303, path
        assert "/login" in answer.headers["location"], path
    # Wine's ids under beer's own console: 404, as ids that do not exist.
    assert another_browser.get(f"/beer/admin/orders/{order.order_id}").status_code == 404
    before = snapshot(site)
    page = another_browser.get("/beer/admin/withdrawals")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    fields = {"csrf_token": token.group(1), "form_key": "k-" + pending}
    for action in (
        f"/beer/admin/withdrawals/{pending}/approve",
        f"/beer/admin/orders/{order.order_id}/ship",
    ):
        answer = another_browser.post(action, fields)
        assert answer.status_code == 404, (action, answer.status_code, answer.text[:500])
        no_traceback(answer)
    assert snapshot(site) == before
    assert withdrawal_status(site, pending) == "pending"
    with site.app.state.database.transaction() as conn:
        withdrawals.reject(
            MallUnitOfWork.joining(conn), admin(site), TENANT, pending, "test cleanup", utc_now()
        )


# --- dashboard ---


def test_dashboard_shows_sales_exits_and_the_health_figures(site: Site, browser: Browser) -> None:
    browser.login(TENANT, demo.ADMIN_EMAIL)
    page = browser.get(f"/{TENANT}/admin/")
    assert page.status_code == 200
    local = utc_now().astimezone(settling.BUSINESS_TZ)
    since = local.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=6)
    with site.app.state.database.read() as conn:
        o = orders_repo.orders
        week = [
            row.total_fen
            for row in conn.execute(
                select(o.c.total_fen, o.c.paid_at).where(o.c.tenant_id == TENANT)
            )
            if row.paid_at is not None
            and (row.paid_at if row.paid_at.tzinfo else row.paid_at.replace(tzinfo=UTC)) >= since
        ]
    assert week, "the demo's orders are real mall orders paid over past days"
    shown = re.search(r'data-testid="orders-week">([^<]*)<', page.text)
    assert shown is not None
    assert shown.group(1).replace(",", "") == str(len(week))
    from tokenmall.web.pages.i18n import Fmt

    assert f'data-testid="amount-week">{Fmt("zh_CN").money(sum(week))}' in page.text
    assert 'data-testid="exits-week"' in page.text
    assert 'data-testid="cover"' in page.text
    assert 'data-testid="pool"' in page.text


# --- parameters: the tenant admin changes them ---


def test_the_admin_changes_a_parameter_and_bad_values_change_nothing(
    site: Site, browser: Browser
) -> None:
    browser.login(TENANT, demo.ADMIN_EMAIL)
    page = f"/{TENANT}/admin/params"
    action = page
    version = params_version(site)
    before = snapshot(site)
    for change, name in (
        ({"pool_rate": "1.5"}, "pool_rate"),
        ({"grant_rate": "0.95"}, "grant_rate"),
        ({"referral_rates": "0.1, 0.1, 0.1, 0.1"}, "referral_rates"),
        ({"max_supply": "-5"}, "max_supply"),
        ({"sell_fee_rate": "abc"}, "sell_fee_rate"),
        ({"forced_exit": "maybe"}, "forced_exit"),
    ):
        for action_name in ("preview", "apply"):
            answer = browser.submit(page, action, {**change, "action": action_name})
            assert answer.status_code == 422, (change, action_name, answer.status_code)
            assert field_error(answer.text, name), (change, answer.text[:3000])
            no_traceback(answer)
    nothing = browser.submit(page, action, {"action": "apply"})
    assert nothing.status_code == 422
    assert field_error(nothing.text, "_form")
    assert params_version(site) == version
    assert snapshot(site) == before
    preview = browser.submit(page, action, {"sell_fee_rate": "0.08", "action": "preview"})
    assert preview.status_code == 200
    assert 'data-testid="grant-after"' in preview.text
    assert params_version(site) == version
    data = {
        **browser.form(page, action),
        "sell_fee_rate": "0.08",
        "action": "apply",
        "params_version": str(version),
    }
    applied = browser.post(action, data)
    assert applied.status_code == 303, applied.text[:2000]
    assert params_version(site) == version + 1
    assert browser.post(action, data).status_code == 303  # replayed, not a second change
    assert params_version(site) == version + 1
    shown = browser.get(applied.headers["location"])
    assert 'data-testid="params-changed"' in shown.text
    assert 'value="0.08"' in shown.text
    admin_id = admin(site).subject_id
    assert admin_id in shown.text  # the change history names the admin
    with site.app.state.database.reading() as uow:
        history = tenants.admin_params_history(uow, admin(site), TENANT)
    assert history[-1].changed_by == admin_id
    stale = browser.submit(
        page, action, {"sell_fee_rate": "0.07", "action": "apply", "params_version": str(version)}
    )
    assert stale.status_code == 409
    assert field_error(stale.text, "_form")
    assert params_version(site) == version + 1


# --- orders and refunds ---


def test_ship_an_order_and_bad_input_changes_nothing(site: Site, browser: Browser) -> None:
    browser.login(TENANT, demo.ADMIN_EMAIL)
    order = order_in(site, "paid")
    page = f"/{TENANT}/admin/orders/{order.order_id}"
    action = f"{page}/ship"
    listed = browser.get(f"/{TENANT}/admin/orders?status=paid")
    assert order.order_id in listed.text
    before = snapshot(site)
    refused = browser.submit(page, action, {"carrier": "顺" * 101, "tracking_number": "SF1"})
    assert refused.status_code == 422
    assert field_error(refused.text, "carrier")
    assert snapshot(site) == before
    shipped = browser.submit(page, action, {"carrier": "顺丰速运", "tracking_number": "SF123"})
    assert shipped.status_code == 303
    shown = browser.get(shipped.headers["location"])
    assert 'data-testid="order-status">已发货<' in shown.text
    assert "SF123" in shown.text
    assert 'data-testid="order-history"' in shown.text
    # Shipping it again: the form is gone; a hand-made post is a conflict, nothing changed.
    after = snapshot(site)
    token = re.search(r'name="csrf_token" value="([^"]+)"', shown.text)
    assert token is not None
    again = browser.post(action, {"csrf_token": token.group(1), "form_key": "another"})
    assert again.status_code == 409
    no_traceback(again)
    assert snapshot(site) == after


def test_the_orders_page_lists_newest_first_and_pages_on(site: Site, browser: Browser) -> None:
    browser.login(TENANT, demo.ADMIN_EMAIL)
    with site.app.state.database.read() as conn:
        found = orders_repo.list_orders(
            conn, TENANT, user_id=None, merchant_id=None, status=None, after=None, limit=500
        )
    newest_first = sorted((o.order_id for o in found), reverse=True)
    assert len(newest_first) > 10

    def listed(path: str) -> list[str]:
        page = browser.get(path)
        assert page.status_code == 200
        table = re.search(r'data-testid="order-list">(.*?)</table>', page.text, re.S)
        assert table is not None
        return re.findall(r'data-order="([^"]+)"', table.group(1))

    assert listed(f"/{TENANT}/admin/orders") == newest_first
    # The next page after an order holds the older ones.
    assert listed(f"/{TENANT}/admin/orders?after={newest_first[9]}") == newest_first[10:]
