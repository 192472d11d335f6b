"""Payouts and reconciliation as pages, on the demo: 刘洋 (whose real-name submission an admin
verifies in the console) registers a payee account (a wrong name is refused next to its
field, nothing changed; the account is shown masked), withdraws, and the console's approval
pays it through the sandbox's channel; the payouts page shows it, Chinese first. A day's
reconciliation lists its mismatches first."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pages_helpers import Browser, Site, field_error
from sqlalchemy import select

from tokenmall import bootstrap
from tokenmall.adapters.db.mall.payouts import payee_accounts, payouts, sandbox_transactions
from tokenmall.demo import kyc as demo_kyc
from tokenmall.demo import living as demo
from tokenmall.services.mall import reconciliation
from tokenmall.services.mall.settling import BUSINESS_TZ

TENANT = demo.TENANT_ID
EMAIL, NAME = demo_kyc.WAITING[0], demo_kyc.WAITING[1]
PAYEE = f"/{TENANT}/payee-account"


def rows(site: Site) -> list[tuple[Any, ...]]:
    with site.app.state.database.read() as conn:
        found = []
        for table in (payee_accounts, payouts):
            found += [tuple(r) for r in conn.execute(select(table))]
    return found


def verify_liu_yang(admin: Browser) -> None:
    queue = admin.get(f"/{TENANT}/admin/kyc")
    found = re.search(r'data-submission="(kyc_[^"]+)"', queue.text)
    assert found is not None
    done = admin.submit(
        f"/{TENANT}/admin/kyc",
        f"/{TENANT}/admin/kyc/{found.group(1)}/approve",
        {"row": found.group(1)},
    )
    assert done.status_code == 303, done.text[:500]


def test_a_payee_account_then_a_payout_through_the_console(
    site: Site, browser: Browser, another_browser: Browser
) -> None:
    another_browser.login(TENANT, demo.ADMIN_EMAIL)
    verify_liu_yang(another_browser)
    browser.login(TENANT, EMAIL)
    page = browser.get(PAYEE)
    assert page.status_code == 200
    assert "收款账户" in page.text
    assert 'data-testid="payee-none"' in page.text
    assert "Payee account" in browser.get(f"{PAYEE}?lang=en").text
    browser.get(f"{PAYEE}?lang=zh_CN")

    before = rows(site)
    wrong = browser.submit(
        PAYEE, PAYEE, {"channel": "wechat", "account": "o_liuyang_001", "real_name": "李娜"}
    )
    assert wrong.status_code == 422
    assert field_error(wrong.text, "real_name")
    assert rows(site) == before
    saved = browser.submit(
        PAYEE, PAYEE, {"channel": "wechat", "account": "o_liuyang_001", "real_name": NAME}
    )
    assert saved.status_code == 303, saved.text[:500]
    page = browser.get(saved.headers["location"])
    assert 'data-testid="payee-saved"' in page.text
    assert "o_l******_001" in page.text
    assert "o_liuyang_001" not in page.text
    assert "微信支付" in page.text

    asked = browser.submit(f"/{TENANT}/withdrawals", f"/{TENANT}/withdrawals", {"amount": "1.00"})
    assert asked.status_code == 303, asked.text[:800]
    queue = another_browser.get(f"/{TENANT}/admin/withdrawals")
    found = re.search(
        r'data-withdrawal="(wdr_[^"]+)">\s*<td>[^<]*<br><small class="mono">', queue.text
    )
    assert found is not None
    wid = found.group(1)
    approve = f"/{TENANT}/admin/withdrawals/{wid}/approve"
    done = another_browser.submit(f"/{TENANT}/admin/withdrawals", approve, {"row": wid})
    assert done.status_code == 303, done.text[:500]
    assert done.headers["location"].endswith("done=paying")
    listed = another_browser.get(f"/{TENANT}/admin/payouts")
    assert "打款记录" in listed.text
    assert 'data-status="succeeded"' in listed.text
    assert "已到账" in listed.text
    assert "o_l******_001" in listed.text
    paid = another_browser.get(f"/{TENANT}/admin/withdrawals?status=paid")
    assert wid in paid.text
    assert "Payouts" in another_browser.get(f"/{TENANT}/admin/payouts?lang=en").text
    another_browser.get(f"/{TENANT}/admin/payouts?lang=zh_CN")


def test_a_days_reconciliation_lists_its_mismatches_first(
    site: Site, another_browser: Browser
) -> None:
    db = site.app.state.database
    noon = datetime(2026, 11, 2, 12, tzinfo=BUSINESS_TZ).astimezone(UTC)
    with db.engine.begin() as conn:
        conn.execute(
            sandbox_transactions.insert().values(
                tenant_id=TENANT,
                txn_id="sbx_page_stray",
                kind="payment",
                reference="pay_page_stray",
                amount_fen=1_234,
                occurred_at=noon,
            )
        )
    sources = bootstrap.bill_sources(db, bootstrap.payment_channels("k" * 32, True))
    (done,) = reconciliation.reconcile(db, sources, TENANT, noon.date(), noon)
    assert done.report.missing_in_ledger == 1
    another_browser.login(TENANT, demo.ADMIN_EMAIL)
    days = another_browser.get(f"/{TENANT}/admin/reconciliations")
    assert days.status_code == 200
    assert "对账" in days.text
    assert 'data-day="2026-11-02" data-clean="no"' in days.text
    day = another_browser.get(f"/{TENANT}/admin/reconciliations/2026-11-02")
    assert day.status_code == 200
    outcomes = re.findall(r'data-outcome="(\w+)"', day.text)
    assert outcomes[0] == "missing_in_ledger"
    assert "商城漏记" in day.text
    assert "12.34" in day.text
    bad = another_browser.get(f"/{TENANT}/admin/reconciliations/2026-02-30")
    assert bad.status_code == 422
