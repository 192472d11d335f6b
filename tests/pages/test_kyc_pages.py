"""Real-name verification as a browser without JavaScript does it, on the demo: 李娜 sees on
her withdrawal page that she must verify first, submits her name and ID number, an admin
verifies it in the console's review queue (刘洋's seeded submission waits there too), and she
withdraws. Refused forms show the message next to the field and change nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pages_helpers import Browser, Site, field_error
from sqlalchemy import select

from tokenmall.adapters.db.mall.kyc import kyc_submissions
from tokenmall.adapters.db.mall.tables import users
from tokenmall.demo import kyc as demo_kyc
from tokenmall.demo import living as demo

TENANT = demo.TENANT_ID
CONSUMER = demo.CONSUMERS[0][0]  # 李娜, the demo's consumer login
PAGE = f"/{TENANT}/kyc"
QUEUE = f"/{TENANT}/admin/kyc"
ID = "11010519491231002X"


def state(site: Site) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The tenant's submissions and its users' real-name statuses."""
    with site.app.state.database.read() as conn:
        rows = conn.execute(
            select(kyc_submissions)
            .where(kyc_submissions.c.tenant_id == TENANT)
            .order_by(kyc_submissions.c.submission_id)
        ).all()
        people = conn.execute(
            select(users.c.user_id, users.c.kyc_status)
            .where(users.c.tenant_id == TENANT)
            .order_by(users.c.user_id)
        ).all()
    return [tuple(r) for r in rows], [tuple(r) for r in people]


def status_shown(html: str) -> str:
    found = re.search(r'data-testid="kyc-status" data-status="(\w+)"', html)
    assert found is not None
    return found.group(1)


def test_the_demo_seeds_one_submission_waiting_for_review(site: Site, browser: Browser) -> None:
    browser.login(TENANT, demo.ADMIN_EMAIL)
    page = browser.get(QUEUE)
    assert page.status_code == 200
    assert "实名审核" in page.text
    assert "刘*" in page.text
    assert "3301**********4327" in page.text
    assert demo_kyc.WAITING[2] not in page.text  # never the full number
    assert 'data-testid="kyc-approve"' in page.text


@pytest.mark.parametrize(
    ("data", "name"),
    [
        ({"real_name": "", "id_number": ID}, "real_name"),
        ({"real_name": "李娜" * 30, "id_number": ID}, "real_name"),
        ({"real_name": "李娜1", "id_number": ID}, "real_name"),
        ({"real_name": "李娜", "id_number": "110105194912310021"}, "id_number"),
        ({"real_name": "李娜", "id_number": "12345"}, "id_number"),
        ({"real_name": "李娜", "id_number": ID, "phone": "555"}, "phone"),
    ],
)
def test_a_refused_submission_says_why_next_to_the_field_and_changes_nothing(
    site: Site, browser: Browser, data: dict[str, str], name: str
) -> None:
    browser.login(TENANT, CONSUMER)
    before = state(site)
    answer = browser.submit(PAGE, PAGE, data)
    assert answer.status_code == 422, answer.text[:300]
    assert field_error(answer.text, name)
    assert state(site) == before


def test_the_consumer_verifies_then_withdraws(
    site: Site, browser: Browser, another_browser: Browser
) -> None:
    browser.login(TENANT, CONSUMER)
    money = browser.get(f"/{TENANT}/withdrawals")
    assert 'data-testid="kyc-needed"' in money.text
    assert f'href="/{TENANT}/kyc"' in money.text
    assert "请先完成实名认证" in money.text
    english = browser.get(f"{PAGE}?lang=en")
    assert "Real-name verification" in english.text
    assert "Submit for review" in english.text
    page = browser.get(f"{PAGE}?lang=zh_CN")  # the language chosen stays in a cookie
    assert "提交审核" in page.text
    assert status_shown(page.text) == "none"
    assert 'data-testid="my-kyc"' in browser.get(f"/{TENANT}/me").text

    answer = browser.submit(
        PAGE, PAGE, {"real_name": "李娜", "id_number": ID.lower(), "phone": "13800138001"}
    )
    assert answer.status_code == 303, answer.text[:500]
    assert answer.headers["location"] == f"{PAGE}?submitted=1"
    page = browser.get(f"{PAGE}?submitted=1")
    assert status_shown(page.text) == "pending"
    assert "李*" in page.text
    assert "1101**********002X" in page.text
    assert ID not in page.text
    assert 'data-testid="kyc-form"' not in page.text
    before = state(site)
    again = browser.post(
        PAGE, {**browser.form(f"/{TENANT}/me"), "real_name": "李娜", "id_number": ID}
    )
    assert again.status_code in (403, 409, 422)
    assert state(site) == before
    assert "审核中" in browser.get(f"/{TENANT}/withdrawals").text

    another_browser.login(TENANT, demo.ADMIN_EMAIL)
    queue = another_browser.get(QUEUE)
    row = r'data-submission="(kyc_[^"]+)">\s*<td>[^<]*<br><small class="mono">[^<]*</small></td>'
    mine = re.search(row + r"\s*<td>李娜</td>", queue.text)
    assert mine is not None, queue.text[:3000]
    submission_id = mine.group(1)
    reject = f"{QUEUE}/{submission_id}/reject"
    before = state(site)
    refused = another_browser.submit(QUEUE, reject, {"reason": " ", "row": submission_id})
    assert refused.status_code == 422
    assert field_error(refused.text, "reason")
    assert state(site) == before
    approve = f"{QUEUE}/{submission_id}/approve"
    done = another_browser.submit(QUEUE, approve, {"row": submission_id})
    assert done.status_code == 303, done.text[:500]
    assert done.headers["location"] == f"{QUEUE}?done=verified"
    assert 'data-testid="kyc-done"' in another_browser.get(done.headers["location"]).text

    assert status_shown(browser.get(PAGE).text) == "verified"
    money = browser.get(f"/{TENANT}/withdrawals")
    assert 'data-testid="kyc-needed"' not in money.text
    asked = browser.submit(f"/{TENANT}/withdrawals", f"/{TENANT}/withdrawals", {"amount": "1.00"})
    assert asked.status_code == 303, asked.text[:800]
    assert asked.headers["location"] == f"/{TENANT}/withdrawals?requested=1"


def test_the_console_queue_is_for_admins_only(site: Site, browser: Browser) -> None:
    browser.login(TENANT, CONSUMER)
    assert browser.get(QUEUE).status_code in (403, 404)
    browser.login(TENANT, demo.ADMIN_EMAIL)
    for status in ("pending", "verified", "rejected", "all"):
        assert browser.get(f"{QUEUE}?status={status}").status_code == 200
    assert browser.get(f"{QUEUE}?status=bogus").status_code == 422
    assert "Real-name review" in browser.get(f"{QUEUE}?lang=en").text
    assert "实名审核" in browser.get(f"{QUEUE}?lang=zh_CN").text


MERCHANT = demo.MERCHANTS[0][0]


@pytest.mark.parametrize("email", [CONSUMER, MERCHANT])
def test_a_consumers_and_a_merchants_me_page_link_to_real_name_verification(
    site: Site, browser: Browser, email: str
) -> None:
    browser.login(TENANT, email)
    me = browser.get(f"/{TENANT}/me")
    assert me.status_code == 200
    assert f'href="{PAGE}" data-testid="my-kyc"' in me.text
    shown = browser.get(PAGE)
    assert shown.status_code == 200, shown.text[:300]
    assert "实名认证" in shown.text
    assert status_shown(shown.text) in {"none", "pending", "verified", "rejected"}
    english = browser.get(f"{PAGE}?lang=en").text
    assert "Real-name verification" in english


def test_a_merchant_sees_their_status_and_who_records_it_without_a_form(
    site: Site, browser: Browser
) -> None:
    browser.login(TENANT, MERCHANT)
    statement = browser.get(f"/{TENANT}/store/statement")
    assert f'href="{PAGE}" data-testid="kyc-link"' in statement.text
    shown = browser.get(PAGE)
    assert 'data-testid="kyc-form"' not in shown.text
    if status_shown(shown.text) != "verified":
        assert 'data-testid="kyc-by-admin"' in shown.text
        assert "管理员" in shown.text
