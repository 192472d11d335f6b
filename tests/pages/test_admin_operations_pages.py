"""The admin console's operations pages over real HTTP (SQLite and PostgreSQL): a merchant's
own orders, refunds, settings, withdrawal approvals, settlements, audit; every form refuses bad
input next to the field and changes nothing."""

from __future__ import annotations

import re
from datetime import timedelta

# The module's own site (one day left unsettled), in place of conftest's.
from admin_site import (
    PAGES,
    TENANT,
    admin,
    console_site,  # noqa: F401
    member,
    order_in,
    withdrawal,
    withdrawal_status,
)
from pages_helpers import PASSWORD, Browser, Site, field_error
from sqlalchemy import select
from test_pages import no_traceback, snapshot

from tokenmall.adapters.db.mall import orders as orders_repo
from tokenmall.adapters.db.mall import payments as payments_repo
from tokenmall.adapters.db.mall import refunds as refunds_repo
from tokenmall.adapters.db.mall import withdrawals as withdrawals_repo
from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.tables import settled_days
from tokenmall.demo import living as demo
from tokenmall.services.mall import order_refunds, people, settling, withdrawals
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now


def test_a_merchant_ships_its_own_orders_from_the_console_and_sees_no_others(
    site: Site, browser: Browser
) -> None:
    from tokenmall.adapters.db.mall import catalogue as catalogue_repo

    seller = member(site, demo.MERCHANTS[0][0])
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
    first = order_in(site, "received")
    with site.app.state.database.unit() as uow:
        buyer = Principal("session", "test", first.user_id, TENANT, "consumer")
        refund = order_refunds.request_refund(uow, buyer, TENANT, first.order_id, "破损", utc_now())
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
    second = order_in(site, "received")
    with site.app.state.database.unit() as uow:
        buyer = Principal("session", "test", second.user_id, TENANT, "consumer")
        refund = order_refunds.request_refund(
            uow, buyer, TENANT, second.order_id, "不想要了", utc_now()
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
            MallUnitOfWork.joining(conn),
            admin(site),
            TENANT,
            requires_kyc=True,
            min_amount="1.00",
            two_approver_threshold="2.00",
            now=utc_now(),
        )
        people.create_user(
            MallUnitOfWork.joining(conn),
            admin(site),
            TENANT,
            email="second.admin@wine.demo",
            password=PASSWORD,
            display_name="第二管理员",
            role="admin",
            now=utc_now(),
        )
    small = withdrawal(site, demo.CONSUMERS[4][0], "1.00")
    large = withdrawal(site, demo.CONSUMERS[4][0], "3.00")
    refuse = withdrawal(site, demo.CONSUMERS[0][0], "1.00")
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
    assert withdrawal_status(site, refuse) == "rejected"
    # The small one is paid on one approval.
    approved = browser.submit(page, f"{page}/{small}/approve", {})
    assert approved.status_code == 303
    assert approved.headers["location"].endswith("done=paid")
    assert withdrawal_status(site, small) == "paid"
    # The large one needs a second, different admin.
    first = browser.submit(page, f"{page}/{large}/approve", {})
    assert first.status_code == 303
    assert first.headers["location"].endswith("done=approved")
    assert withdrawal_status(site, large) == "pending"
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
    assert withdrawal_status(site, large) == "paid"


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
    assert "在北京时间尚未结束，最晚可结算的日期是" in field_error(answer.text, "business_date")
    english = browser.submit(page + "?lang=en", page, {"business_date": "2026-13-01"})
    assert "is not a calendar date" in field_error(english.text, "business_date")
    browser.get(page + "?lang=zh_CN")
    assert snapshot(site) == before
    with site.app.state.database.reading() as uow:
        assert not settling.is_settled(uow, TENANT, day)
    done = browser.submit(page, page, {"business_date": day.isoformat()})
    assert done.status_code == 303, done.text[:2000]
    shown = browser.get(done.headers["location"])
    assert 'data-testid="settled-result"' in shown.text
    assert f"{day.isoformat()} 已结算" in shown.text
    assert f'data-day="{day.isoformat()}"' in shown.text
    with site.app.state.database.reading() as uow:
        assert settling.is_settled(uow, TENANT, day)
    with site.app.state.database.read() as conn:
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
