"""The admin console's test site (the demo served over real HTTP, its last history day left
unsettled) and helpers that make callers and data through the services, as the API would."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from pages_helpers import Site

from tokenmall.adapters.db.mall import orders as orders_repo
from tokenmall.adapters.db.mall import refunds as refunds_repo
from tokenmall.adapters.db.mall import withdrawals as withdrawals_repo
from tokenmall.config import Settings
from tokenmall.demo import living as demo
from tokenmall.domain.mall.orders import Order
from tokenmall.services.mall import people, withdrawals
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
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


@pytest.fixture(scope="module", name="site")
def console_site(db_url: str) -> Iterator[Site]:
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


def member(site: Site, email: str) -> Principal:
    from tokenmall.adapters.db.mall import people as people_repo

    with site.app.state.database.read() as conn:
        found = people_repo.login_row(conn, TENANT, email)
        assert found is not None
        user = people_repo.get_user(conn, TENANT, found[0])
    assert user is not None
    return Principal("session", "test", user.user_id, TENANT, user.role)


def admin(site: Site) -> Principal:
    return member(site, demo.ADMIN_EMAIL)


def order_in(site: Site, status: str) -> Order:
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


def withdrawal(site: Site, email: str, amount: str) -> str:
    """A pending withdrawal of ``email`` (verified by the admin first)."""
    who = member(site, email)
    with site.app.state.database.transaction() as conn:
        uow = MallUnitOfWork.joining(conn)
        people.update_user(
            uow, admin(site), TENANT, who.subject_id, role=None, kyc_status="verified"
        )
        done = withdrawals.request(MallUnitOfWork.joining(conn), who, TENANT, amount, utc_now())
    return done.withdrawal_id


def withdrawal_status(site: Site, withdrawal_id: str) -> str:
    with site.app.state.database.read() as conn:
        found = withdrawals_repo.get(conn, TENANT, withdrawal_id)
    assert found is not None
    return found.status
