"""The console's actions on a refund the channel did not finish: one that failed shows the
channel's reason with "try again" and (an admin) "abandon" with a required reason; one still
processing shows "ask the channel now". Each acts through the same use cases as the API and the
page then says how the refund stands; a refused action changes nothing."""

from __future__ import annotations

from admin_site import order_in
from pages_helpers import Browser, Site, field_error
from test_pages import snapshot

from tokenmall.adapters.db.mall import payments as payments_repo
from tokenmall.adapters.db.mall import refunds as refunds_repo
from tokenmall.demo import living as demo
from tokenmall.domain.mall.refunds import Refund
from tokenmall.services.mall import order_refunds
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import utc_now

TENANT = demo.TENANT_ID
REFUSED = "WeChat Pay refused the refund: HTTP 403, NOT_ENOUGH 余额不足"


def _left_at(site: Site, status: str) -> tuple[str, Refund]:
    """A received order with a refund approved that its channel left ``status`` (as a refusal
    or a channel still processing leaves it; the channels' own answers are tested in
    tests/api/test_api_refund_refusals.py): the order page and the refund."""
    shown = order_in(site, "received")
    buyer = Principal("session", "test", shown.user_id, TENANT, "consumer")
    now = utc_now()
    with site.app.state.database.unit() as uow:
        refund = order_refunds.request_refund(uow, buyer, TENANT, shown.order_id, "破损", now)
    with site.app.state.database.unit() as uow:
        paid = payments_repo.payments_of(uow.conn, TENANT, shown.order_id)
        values: dict[str, object] = {
            "decided_by": "admin",
            "decided_at": now,
            "payment_id": next(p for p in paid if p.status == "succeeded").payment_id,
            "submitted_at": now,
        }
        if status == "failed":
            values["failure_reason"] = REFUSED
        assert refunds_repo.decide_refund(
            uow.conn, TENANT, refund.refund_id, status, from_status="requested", **values
        )
    return f"/{TENANT}/admin/orders/{shown.order_id}", refund


def _status(site: Site, refund: Refund) -> str:
    with site.app.state.database.read() as conn:
        found = refunds_repo.get_refund(conn, TENANT, refund.refund_id)
    assert found is not None
    return str(found.status)


def test_a_failed_refund_shows_why_and_is_abandoned_with_a_reason(
    site: Site, browser: Browser
) -> None:
    browser.login(TENANT, demo.ADMIN_EMAIL)
    page, refund = _left_at(site, "failed")
    shown = browser.get(page)
    assert 'data-testid="refund-failed"' in shown.text
    assert "NOT_ENOUGH" in shown.text
    assert 'data-testid="refund-retry"' in shown.text
    assert 'data-testid="refund-abandon"' in shown.text
    assert "重新发起退款" in shown.text  # Chinese first
    abandon = f"{page}/refunds/{refund.refund_id}/abandon"
    before = snapshot(site)
    refused = browser.submit(page, abandon, {"reason": "  "})
    assert refused.status_code == 422
    assert field_error(refused.text, "reason")
    assert snapshot(site) == before
    gone = browser.submit(page, abandon, {"reason": "已通过银行转账退款"})
    assert gone.status_code == 303, gone.text[:2000]
    assert gone.headers["location"].endswith("done=refund_abandoned")
    after = browser.get(gone.headers["location"])
    assert 'data-testid="refund-flash"' in after.text
    assert "已通过银行转账退款" in after.text
    assert 'data-testid="refund-retry"' not in after.text
    assert _status(site, refund) == "abandoned"
    assert 'data-testid="order-status">已收货<' in after.text  # nothing booked
    english = browser.get(f"{page}?lang=en").text
    assert "Refund abandoned: nothing was booked." not in english  # a flash only after acting
    assert "refund_abandoned" not in english  # the status translated, never the raw word


def test_a_failed_refund_tried_again_goes_through(site: Site, browser: Browser) -> None:
    browser.login(TENANT, demo.ADMIN_EMAIL)
    page, refund = _left_at(site, "failed")
    retried = browser.submit(page, f"{page}/refunds/{refund.refund_id}/retry", {})
    assert retried.status_code == 303, retried.text[:2000]
    assert retried.headers["location"].endswith("done=approved")
    shown = browser.get(retried.headers["location"])
    assert 'data-testid="order-status">已退款<' in shown.text
    assert _status(site, refund) == "succeeded"


def test_a_processing_refund_is_asked_about(site: Site, browser: Browser) -> None:
    browser.login(TENANT, demo.ADMIN_EMAIL)
    page, refund = _left_at(site, "processing")
    shown = browser.get(page)
    assert 'data-testid="refund-processing"' in shown.text
    assert 'data-testid="refund-retry"' not in shown.text
    assert 'data-testid="refund-abandon"' not in shown.text
    assert "Ask the channel now" in browser.get(f"{page}?lang=en").text
    assert "立即向渠道查询" in browser.get(f"{page}?lang=zh_CN").text
    # Abandoning one still processing is refused and changes nothing.
    before = snapshot(site)
    form = browser.form(page, f"{page}/refunds/{refund.refund_id}/query")
    early = browser.post(
        f"{page}/refunds/{refund.refund_id}/abandon", {**form, "reason": "不再等待"}
    )
    assert early.status_code == 409
    assert snapshot(site) == before
    asked = browser.submit(page, f"{page}/refunds/{refund.refund_id}/query", {})
    assert asked.status_code == 303, asked.text[:2000]
    assert _status(site, refund) == "succeeded"  # the sandbox has refunded it
    assert 'data-testid="order-status">已退款<' in browser.get(asked.headers["location"]).text
