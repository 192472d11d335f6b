"""In real headless Chromium, a tenant admin runs the console (issue 5): changes an economy
parameter (a bad value refused with a message on the page, nothing changed), approves a
withdrawal, runs a settlement and sees its result. Screenshots in Chinese of the dashboard,
orders, withdrawals, settlements, parameters and audit pages go to out/artifacts/screenshots/.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from browser_helpers import Site, shot

from tokenmall.adapters.db.mall import people as people_repo
from tokenmall.adapters.db.mall import withdrawals as withdrawals_repo
from tokenmall.adapters.db.store import Store
from tokenmall.config import Settings
from tokenmall.demo import living as demo
from tokenmall.services.mall import people, settling, withdrawals
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.web.app import create_app

TENANT = demo.TENANT_ID


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The demo (SQLite) with its last history day left for the admin to settle."""
    folder = tmp_path_factory.mktemp("admin-flow")
    settings = Settings(
        env="development",  # the demo pays on the sandbox gateway
        database_url=f"sqlite:///{folder / 'tokenmall.db'}",
        log_level="WARNING",
        insecure_fast_password_hashing=True,
        _env_file=None,  # type: ignore[call-arg]
    )
    app = create_app(settings, configure_logging=False)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    base = f"http://127.0.0.1:{port}"
    demo.seed(app.state.database, base_url=base, days=7, leave_unsettled=1)
    yield Site(base, app)
    server.should_exit = True
    thread.join(timeout=10)


def _member(site: Site, email: str) -> Principal:
    with site.app.state.database.read() as conn:
        found = people_repo.login_row(conn, TENANT, email)
        assert found is not None
        user = people_repo.get_user(conn, TENANT, found[0])
    assert user is not None
    return Principal("session", "test", user.user_id, TENANT, user.role)


def _version(site: Site) -> int:
    with site.app.state.database.read() as conn:
        return Store(conn.engine).load_params(conn, TENANT)[1]


def _pending_withdrawal(site: Site) -> str:
    """A consumer (verified by the admin) asks to withdraw 1.00."""
    admin, asker = _member(site, demo.ADMIN_EMAIL), _member(site, demo.CONSUMERS[4][0])
    with site.app.state.database.transaction() as conn:
        uow = MallUnitOfWork.joining(conn)
        people.update_user(uow, admin, TENANT, asker.subject_id, role=None, kyc_status="verified")
        return withdrawals.request(
            MallUnitOfWork.joining(conn), asker, TENANT, "1.00", utc_now()
        ).withdrawal_id


def test_a_tenant_admin_changes_a_parameter_approves_a_withdrawal_and_settles_a_day(
    site: Site, desk: Any
) -> None:
    desk.goto(f"{site.base_url}/{TENANT}/login")
    desk.fill("#f-email", demo.ADMIN_EMAIL)
    desk.fill("#f-password", demo.PASSWORD)
    desk.click("button[type=submit] >> nth=-1")
    desk.wait_for_url(re.compile(rf"/{TENANT}/admin/$"))  # an admin lands on the console
    desk.goto(f"{site.base_url}/{TENANT}/admin/")
    desk.locator('[data-testid="orders-week"]').wait_for()
    assert int(desk.inner_text('[data-testid="orders-week"]').replace(",", "")) > 0
    shot(desk, "admin-console-dashboard")

    # 1. A parameter: a bad value is refused next to its field and changes nothing.
    desk.click(f'a[href="/{TENANT}/admin/params"]')
    desk.wait_for_url(re.compile(rf"/{TENANT}/admin/params$"))
    version = _version(site)
    desk.fill("#f-sell_fee_rate", "1.5")
    desk.click('button[value="apply"]')
    error = desk.locator('[data-field="sell_fee_rate"]')
    error.wait_for()
    assert error.inner_text().strip()
    assert _version(site) == version
    shot(desk, "admin-params-refused")
    desk.fill("#f-sell_fee_rate", "0.08")
    desk.click('button[value="preview"]')
    desk.locator('[data-testid="grant-after"]').wait_for()
    assert _version(site) == version
    desk.click('button[value="apply"]')
    desk.locator('[data-testid="params-changed"]').wait_for()
    assert "参数已修改" in desk.inner_text('[data-testid="params-changed"]')
    assert _version(site) == version + 1
    assert desk.input_value("#f-sell_fee_rate") == "0.08"
    shot(desk, "admin-params-changed")

    # 2. A withdrawal approved: the held cash is paid out.
    wid = _pending_withdrawal(site)
    desk.click(f'a[href="/{TENANT}/admin/withdrawals"]')
    desk.wait_for_url(re.compile(rf"/{TENANT}/admin/withdrawals$"))
    row = desk.locator(f'tr[data-withdrawal="{wid}"]')
    row.wait_for()
    shot(desk, "admin-withdrawals")
    row.locator('[data-testid="approve"]').click()
    desk.locator('[data-testid="withdrawal-done"]').wait_for()
    assert "已批准并打款" in desk.inner_text('[data-testid="withdrawal-done"]')
    with site.app.state.database.read() as conn:
        found = withdrawals_repo.get(conn, TENANT, wid)
    assert found is not None
    assert found.status == "paid"

    # 3. A settlement: a day that has not ended is refused on the page; yesterday is settled.
    desk.click(f'a[href="/{TENANT}/admin/settlements"]')
    desk.wait_for_url(re.compile(rf"/{TENANT}/admin/settlements$"))
    yesterday = settling.yesterday(utc_now())
    today = yesterday.fromordinal(yesterday.toordinal() + 1)
    desk.fill("#f-business_date", today.isoformat())
    desk.click("text=结算该日")
    desk.locator('[data-field="business_date"]').wait_for()
    with site.app.state.database.reading() as uow:
        assert not settling.is_settled(uow, TENANT, yesterday)
    desk.fill("#f-business_date", yesterday.isoformat())
    desk.click("text=结算该日")
    result = desk.locator('[data-testid="settled-result"]')
    result.wait_for()
    assert f"{yesterday.isoformat()} 已结算" in result.inner_text()
    assert desk.locator(f'tr[data-day="{yesterday.isoformat()}"]').count() == 1
    with site.app.state.database.reading() as uow:
        assert settling.is_settled(uow, TENANT, yesterday)
    shot(desk, "admin-settlements")

    # The other pages, for the record.
    desk.click(f'a[href="/{TENANT}/admin/orders"]')
    desk.wait_for_url(re.compile(rf"/{TENANT}/admin/orders$"))
    desk.locator('[data-testid="order-list"] tbody tr').first.wait_for()
    shot(desk, "admin-orders")
    desk.locator('[data-testid="order-list"] tbody tr a').first.click()
    desk.locator('[data-testid="order-history"]').wait_for()
    shot(desk, "admin-order")
    desk.click(f'a[href="/{TENANT}/admin/audit"]')
    desk.locator('[data-testid="audit-clean"]').wait_for()
    shot(desk, "admin-audit")
    desk.click(f'a[href="/{TENANT}/admin/settings"]')
    desk.locator('[data-testid="order-settings"]').wait_for()
    shot(desk, "admin-settings")
