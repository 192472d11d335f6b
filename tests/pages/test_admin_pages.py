"""The admin console's operations pages over real HTTP, without JavaScript (SQLite and
PostgreSQL): orders and refunds, settings, withdrawal approvals, settlements, audit, and the
tenant admin's own parameter change. Every page renders for an admin, is refused for a consumer
and a merchant, and shows nothing of the tenant to another tenant; every form refuses bad input
with the message next to the field and changes nothing (every table compared before/after)."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, timedelta

import pytest
import uvicorn
from pages_helpers import PASSWORD, Browser, Site, field_error
from sqlalchemy import select
from test_pages import no_traceback, params_version, snapshot

from tokenmall.adapters.db.mall import orders as orders_repo
from tokenmall.adapters.db.mall import payments as payments_repo
from tokenmall.adapters.db.mall import refunds as refunds_repo
from tokenmall.adapters.db.mall import withdrawals as withdrawals_repo
from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.tables import settled_days
from tokenmall.config import Settings
from tokenmall.demo import living as demo
from tokenmall.domain.mall.orders import Order
from tokenmall.services.mall import order_refunds, people, settling, tenants, withdrawals
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import utc_now
from tokenmall.web.app import create_app

TENANT = demo.TENANT_ID
CONSUMER = demo.CONSUMERS[0][0]
PAGES = (
    "/admin/",
    "/admin/params",
    "/admin/orders",
    "/admin/orders?status=paid",
    "/admin/withdrawals",
    "/admin/withdrawals?status=all",
    "/admin/settlements",
    "/admin/settings",
    "/admin/audit",
)


@pytest.fixture(scope="module")
def site(db_url: str) -> Iterator[Site]:
    """The demo with its last history day left unsettled, for the settlement form."""
    settings = Settings(
        database_url=db_url,
        log_level="WARNING",
        insecure_fast_password_hashing=True,
        _env_file=None,  # type: ignore[call-arg]
    )
    app = create_app(settings, configure_logging=False)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock_port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=sock_port, log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    base = f"http://127.0.0.1:{sock_port}"
    demo.seed(app.state.database, base_url=base, days=5, leave_unsettled=1)
    yield Site(base, app)
    server.should_exit = True
    thread.join(timeout=10)


# --- helpers: callers and data made through the services, as the API would ---


def _member(site: Site, email: str) -> Principal:
    from tokenmall.adapters.db.mall import people as people_repo

    with site.app.state.database.read() as conn:
        found = people_repo.login_row(conn, TENANT, email)
        assert found is not None
        user = people_repo.get_user(conn, TENANT, found[0])
    assert user is not None
    return Principal("session", "test", user.user_id, TENANT, user.role)


def _admin(site: Site) -> Principal:
    return _member(site, demo.ADMIN_EMAIL)


def _order_in(site: Site, status: str) -> Order:
    with site.app.state.database.read() as conn:
        found = orders_repo.list_orders(
            conn, TENANT, user_id=None, merchant_id=None, status=status, after=None, limit=200
        )
        pending = {
            o.order_id
            for o in found
            if any(
                r.status == "requested" for r in refunds_repo.refunds_of(conn, TENANT, o.order_id)
            )
        }
    free = [o for o in found if o.order_id not in pending]
    assert free, f"no {status} order in the demo"
    return free[0]


def _withdrawal(site: Site, email: str, amount: str) -> str:
    """A pending withdrawal of ``email`` (verified by the admin first)."""
    who = _member(site, email)
    with site.app.state.database.transaction() as conn:
        people.update_user(
            conn, _admin(site), TENANT, who.subject_id, role=None, kyc_status="verified"
        )
        done = withdrawals.request(conn, who, TENANT, amount, utc_now())
    return done.withdrawal_id


def _withdrawal_status(site: Site, withdrawal_id: str) -> str:
    with site.app.state.database.read() as conn:
        found = withdrawals_repo.get(conn, TENANT, withdrawal_id)
    assert found is not None
    return found.status


# --- roles and tenants ---


def test_every_console_page_renders_for_an_admin_only(site: Site, browser: Browser) -> None:
    order = _order_in(site, "received")
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
            conn,
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
    order = _order_in(site, "paid")
    pending = _withdrawal(site, demo.CONSUMERS[3][0], "1.00")
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
    assert _withdrawal_status(site, pending) == "pending"
    with site.app.state.database.transaction() as conn:
        withdrawals.reject(conn, _admin(site), TENANT, pending, "test cleanup", utc_now())


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
    admin_id = _admin(site).subject_id
    assert admin_id in shown.text  # the change history names the admin
    with site.app.state.database.read() as conn:
        history = tenants.admin_params_history(conn, _admin(site), TENANT)
    assert history[-1]["changed_by"] == admin_id
    stale = browser.submit(
        page, action, {"sell_fee_rate": "0.07", "action": "apply", "params_version": str(version)}
    )
    assert stale.status_code == 409
    assert field_error(stale.text, "_form")
    assert params_version(site) == version + 1


# --- orders and refunds ---


def test_ship_an_order_and_bad_input_changes_nothing(site: Site, browser: Browser) -> None:
    browser.login(TENANT, demo.ADMIN_EMAIL)
    order = _order_in(site, "paid")
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


def test_a_merchant_ships_its_own_orders_from_the_console_and_sees_no_others(
    site: Site, browser: Browser
) -> None:
    from tokenmall.adapters.db.mall import catalogue as catalogue_repo

    seller = _member(site, demo.MERCHANTS[0][0])
    with site.app.state.database.read() as conn:
        merchant = catalogue_repo.merchant_of_owner(conn, TENANT, seller.subject_id)
        assert merchant is not None
        every = orders_repo.list_orders(
            conn, TENANT, user_id=None, merchant_id=None, status=None, after=None, limit=500
        )
    own = [o for o in every if o.merchant_id == merchant.merchant_id]
    others = [o for o in every if o.merchant_id != merchant.merchant_id]
    assert own
    assert others
    browser.login(TENANT, demo.MERCHANTS[0][0])
    listed = browser.get(f"/{TENANT}/admin/orders")
    assert listed.status_code == 200
    no_traceback(listed)
    table = re.search(r'data-testid="order-list">(.*?)</table>', listed.text, re.S)
    assert table is not None
    assert re.findall(r'data-order="([^"]+)"', table.group(1)) == sorted(
        (o.order_id for o in own), reverse=True
    )
    refunds = re.search(r'data-testid="refund-requests">(.*?)</section>', listed.text, re.S)
    assert refunds is not None
    assert not any(o.order_id in refunds.group(1) for o in others)
    assert f'href="/{TENANT}/admin/orders"' in listed.text  # in the console's menu
    # Another merchant's order is not there at all; every other console page stays closed.
    before = snapshot(site)
    theirs = others[0]
    assert browser.get(f"/{TENANT}/admin/orders/{theirs.order_id}").status_code == 404
    mine = next(o for o in own if o.status == "paid")
    page = f"/{TENANT}/admin/orders/{mine.order_id}"
    shown = browser.get(page)
    assert shown.status_code == 200
    assert 'data-testid="ship-form"' in shown.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', shown.text)
    assert token is not None
    refused = browser.post(
        f"/{TENANT}/admin/orders/{theirs.order_id}/ship",
        {"csrf_token": token.group(1), "form_key": "not-mine", "carrier": "SF"},
    )
    assert refused.status_code == 404
    no_traceback(refused)
    for path in PAGES:
        if not path.startswith("/admin/orders"):
            assert browser.get(f"/{TENANT}{path}").status_code == 403, path
    assert snapshot(site) == before
    # Its own paid order ships.
    shipped = browser.submit(
        page, f"{page}/ship", {"carrier": "顺丰速运", "tracking_number": "SF9"}
    )
    assert shipped.status_code == 303
    again = browser.get(shipped.headers["location"])
    assert 'data-testid="order-status">已发货<' in again.text


def test_refunds_are_refused_with_a_reason_or_approved(site: Site, browser: Browser) -> None:
    browser.login(TENANT, demo.ADMIN_EMAIL)
    first = _order_in(site, "received")
    with site.app.state.database.transaction() as conn:
        buyer = Principal("session", "test", first.user_id, TENANT, "consumer")
        refund = order_refunds.request_refund(
            conn, buyer, TENANT, first.order_id, "破损", utc_now()
        )
    listed = browser.get(f"/{TENANT}/admin/orders")
    assert first.order_id in listed.text
    assert 'data-testid="refund-requests"' in listed.text
    page = f"/{TENANT}/admin/orders/{first.order_id}"
    reject = f"{page}/refunds/{refund.refund_id}/reject"
    before = snapshot(site)
    refused = browser.submit(page, reject, {"note": "  "})
    assert refused.status_code == 422
    assert field_error(refused.text, "note")
    bogus = browser.post(f"{page}/refunds/{refund.refund_id}/maybe", browser.form(page, reject))
    assert bogus.status_code in (404, 405)
    assert snapshot(site) == before
    rejected = browser.submit(page, reject, {"note": "瓶子完好，不予退款"})
    assert rejected.status_code == 303
    shown = browser.get(rejected.headers["location"])
    assert "瓶子完好，不予退款" in shown.text
    # A second request, approved: the money goes back, the order is refunded.
    second = _order_in(site, "received")
    with site.app.state.database.transaction() as conn:
        buyer = Principal("session", "test", second.user_id, TENANT, "consumer")
        refund = order_refunds.request_refund(
            conn, buyer, TENANT, second.order_id, "不想要了", utc_now()
        )
    page = f"/{TENANT}/admin/orders/{second.order_id}"
    approved = browser.submit(page, f"{page}/refunds/{refund.refund_id}/approve", {})
    assert approved.status_code == 303, approved.text[:2000]
    shown = browser.get(approved.headers["location"])
    assert 'data-testid="order-status">已退款<' in shown.text
    with site.app.state.database.read() as conn:
        found = refunds_repo.get_refund(conn, TENANT, refund.refund_id)
    assert found is not None
    assert found.status == "succeeded"


# --- settings ---


def test_settings_forms_refuse_bad_values_next_to_the_field(site: Site, browser: Browser) -> None:
    browser.login(TENANT, demo.ADMIN_EMAIL)
    page = f"/{TENANT}/admin/settings"
    orders_action, money_action = f"{page}/orders", f"{page}/withdrawals"
    before = snapshot(site)
    for action, change, name in (
        (orders_action, {"return_window_days": "366"}, "return_window_days"),
        (orders_action, {"return_window_days": "-1"}, "return_window_days"),
        (orders_action, {"payment_timeout_minutes": "0"}, "payment_timeout_minutes"),
        (orders_action, {"auto_confirm_days": "1.5"}, "auto_confirm_days"),
        (money_action, {"min_amount": "1.001"}, "min_amount"),
        (money_action, {"two_approver_threshold": "abc"}, "two_approver_threshold"),
        (money_action, {"requires_kyc": "perhaps"}, "requires_kyc"),
    ):
        answer = browser.submit(page, action, change)
        assert answer.status_code == 422, (change, answer.status_code)
        assert field_error(answer.text, name), (change, answer.text[:3000])
        no_traceback(answer)
    assert snapshot(site) == before
    saved = browser.submit(page, orders_action, {"return_window_days": "10"})
    assert saved.status_code == 303
    with site.app.state.database.read() as conn:
        assert orders_repo.get_settings(conn, TENANT).return_window_days == 10
    saved = browser.submit(
        page,
        money_action,
        {"requires_kyc": "true", "min_amount": "1.00", "two_approver_threshold": "20.00"},
    )
    assert saved.status_code == 303
    with site.app.state.database.read() as conn:
        assert withdrawals_repo.get_settings(conn, TENANT).two_approver_threshold_fen == 20_00


# --- withdrawals ---


def test_withdrawals_approved_refused_and_two_approvers_above_the_threshold(
    site: Site, browser: Browser, another_browser: Browser
) -> None:
    with site.app.state.database.transaction() as conn:
        withdrawals.update_settings(
            conn,
            _admin(site),
            TENANT,
            requires_kyc=True,
            min_amount="1.00",
            two_approver_threshold="2.00",
            now=utc_now(),
        )
        people.create_user(
            conn,
            _admin(site),
            TENANT,
            email="second.admin@wine.demo",
            password=PASSWORD,
            display_name="第二管理员",
            role="admin",
            now=utc_now(),
        )
    small = _withdrawal(site, demo.CONSUMERS[4][0], "1.00")
    large = _withdrawal(site, demo.CONSUMERS[4][0], "3.00")
    refuse = _withdrawal(site, demo.CONSUMERS[0][0], "1.00")
    browser.login(TENANT, demo.ADMIN_EMAIL)
    page = f"/{TENANT}/admin/withdrawals"
    shown = browser.get(page)
    for wid in (small, large, refuse):
        assert f'data-withdrawal="{wid}"' in shown.text
    row = shown.text.split(f'data-withdrawal="{large}"')[1].split("</tr>")[0]
    assert 'data-testid="two-approvers"' in row
    # Refusing needs a reason, next to the field of that row; nothing changes.
    before = snapshot(site)
    reject = f"{page}/{refuse}/reject"
    refused = browser.submit(page, reject, {"reason": " ", "row": refuse})
    assert refused.status_code == 422
    assert field_error(refused.text, "reason")
    assert snapshot(site) == before
    assert browser.submit(page, reject, {"reason": "信息不符"}).status_code == 303
    assert _withdrawal_status(site, refuse) == "rejected"
    # The small one is paid on one approval.
    approved = browser.submit(page, f"{page}/{small}/approve", {})
    assert approved.status_code == 303
    assert approved.headers["location"].endswith("done=paid")
    assert _withdrawal_status(site, small) == "paid"
    # The large one needs a second, different admin.
    first = browser.submit(page, f"{page}/{large}/approve", {})
    assert first.status_code == 303
    assert first.headers["location"].endswith("done=approved")
    assert _withdrawal_status(site, large) == "pending"
    token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get(page).text)
    assert token is not None
    before = snapshot(site)
    twice = browser.post(
        f"{page}/{large}/approve", {"csrf_token": token.group(1), "form_key": "again-by-me"}
    )
    assert twice.status_code == 409
    assert field_error(twice.text, "_form")
    assert snapshot(site) == before
    another_browser.login(TENANT, "second.admin@wine.demo")
    second = another_browser.submit(page, f"{page}/{large}/approve", {})
    assert second.status_code == 303
    assert second.headers["location"].endswith("done=paid")
    assert _withdrawal_status(site, large) == "paid"


# --- settlements and audit ---


def test_run_a_settlement_and_see_its_result(site: Site, browser: Browser) -> None:
    browser.login(TENANT, demo.ADMIN_EMAIL)
    page = f"/{TENANT}/admin/settlements"
    day = settling.yesterday(utc_now())
    before = snapshot(site)
    for text in ("2026-13-01", "yesterday", "", (day + timedelta(days=1)).isoformat()):
        answer = browser.submit(page, page, {"business_date": text})
        assert answer.status_code == 422, (text, answer.status_code)
        assert field_error(answer.text, "business_date"), text
    assert snapshot(site) == before
    with site.app.state.database.read() as conn:
        assert not settling.is_settled(conn, TENANT, day)
    done = browser.submit(page, page, {"business_date": day.isoformat()})
    assert done.status_code == 303, done.text[:2000]
    shown = browser.get(done.headers["location"])
    assert 'data-testid="settled-result"' in shown.text
    assert f"{day.isoformat()} 已结算" in shown.text
    assert f'data-day="{day.isoformat()}"' in shown.text
    with site.app.state.database.read() as conn:
        assert settling.is_settled(conn, TENANT, day)
        count = len(list(conn.execute(select(settled_days))))
    # Again: its first result, nothing changed (but the new form's own idempotency record).
    after = snapshot(site)
    again = browser.submit(page, page, {"business_date": day.isoformat()})
    assert again.status_code == 303
    assert "此前已结算" in browser.get(again.headers["location"]).text
    now = snapshot(site)
    assert len(now.pop("mall_idempotency")) == len(after.pop("mall_idempotency")) + 1
    assert now == after
    with site.app.state.database.read() as conn:
        assert len(list(conn.execute(select(settled_days)))) == count


def test_audit_page_shows_the_ledger_clean(site: Site, browser: Browser) -> None:
    from tokenmall.services.ledger import audit

    browser.login(TENANT, demo.ADMIN_EMAIL)
    page = browser.get(f"/{TENANT}/admin/audit")
    assert page.status_code == 200
    (report,) = audit.audit(Store(site.app.state.database.engine), TENANT)
    assert not report.findings
    assert 'data-testid="audit-clean"' in page.text
    journals = re.search(r'data-testid="audit-journals">([^<]*)<', page.text)
    assert journals is not None
    assert journals.group(1).replace(",", "") == str(report.journals)


# --- the demo's orders are the mall's ---


def test_the_demos_orders_went_through_the_mall_and_a_rerun_adds_none(site: Site) -> None:
    db = site.app.state.database
    with db.read() as conn:
        found = orders_repo.list_orders(
            conn, TENANT, user_id=None, merchant_id=None, status=None, after=None, limit=500
        )
        assert found
        statuses = {o.status for o in found}
        assert "paid" in statuses
        assert statuses & {"received", "completed", "refunded"}
        for order in found:
            paid = [p for p in payments_repo.payments_of(conn, TENANT, order.order_id)]
            assert [p.gateway for p in paid] == ["sandbox"], order.order_id
            assert paid[0].status in ("succeeded", "refunded")
            history = orders_repo.order_history(conn, TENANT, order.order_id)
            assert [e.to_status for e in history][:2] == ["created", "paid"]
            assert order.rewards_booked  # grant_on = paid
    again = demo.seed(db, base_url=site.base_url, days=5, leave_unsettled=1)
    assert again.orders_booked == 0
    assert not again.created
    with db.read() as conn:
        after = orders_repo.list_orders(
            conn, TENANT, user_id=None, merchant_id=None, status=None, after=None, limit=500
        )
    assert [o.order_id for o in after] == [o.order_id for o in found]
