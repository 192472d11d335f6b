"""The sandbox's Approve never sends a request to an address taken from the request (SSRF
through the Host header): its signed event is handled in-process, or posted to the operator's
``sandbox_webhook_url``; a forged Host names a listener that hears nothing, and the payment is
processed as it should be."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest
from mall_api import OPERATOR_EMAIL, OPERATOR_PASSWORD, Api, TenantFixture, make_tenant, ok
from orders_helpers import add_to_cart, checkout, order, sandbox_forms

from served import app_settings, served
from tokenmall.adapters.payments.sandbox import SandboxGateway

WEBHOOK_PATH = "/api/v1/payments/webhooks/sandbox"


class Listener:
    """An HTTP server on 127.0.0.1 that records every request it gets and answers 200."""

    def __init__(self) -> None:
        heard: list[dict[str, Any]] = []
        self.heard = heard

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                heard.append(
                    {
                        "method": "POST",
                        "path": self.path,
                        "headers": dict(self.headers.items()),
                        "body": self.rfile.read(length),
                    }
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def do_GET(self) -> None:
                heard.append({"method": "GET", "path": self.path})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    found = Listener()
    yield found
    found.close()


def _unpaid(api: Api, t: TenantFixture) -> tuple[str, str]:
    """A checkout with a money part: (its order id, its sandbox page's approve action)."""
    add_to_cart(api, t)
    done = checkout(api, t)
    (payment,) = done["payments"]
    forms = sandbox_forms(api, payment["redirect_url"])
    return done["orders"][0]["order_id"], forms["approve"]


def test_a_forged_host_on_approve_sends_nothing_there_and_the_payment_is_made(
    api: Api, tenant: TenantFixture, listener: Listener
) -> None:
    t = tenant
    order_id, approve = _unpaid(api, t)
    answer = api.http.post(approve, data={"outcome": "approve"}, headers={"Host": listener.address})
    time.sleep(0.2)  # a request the server had sent would have arrived by now
    assert listener.heard == []
    assert answer.status_code == 200, answer.text
    assert "已通知商城（payment.succeeded）" in answer.text
    paid = order(api, t, order_id)
    assert paid["status"] == "paid"
    (payment,) = paid["payments"]
    assert payment["status"] == "succeeded"
    detail = ok(api.get(t.path(f"/payments/{payment['payment_id']}"), t.admin_token))
    assert [c["outcome"] for c in detail["callbacks"]] == ["accepted"]


def test_a_forged_host_on_fail_sends_nothing_there(
    api: Api, tenant: TenantFixture, listener: Listener
) -> None:
    t = tenant
    order_id, approve = _unpaid(api, t)
    answer = api.http.post(approve, data={"outcome": "fail"}, headers={"Host": listener.address})
    time.sleep(0.2)
    assert listener.heard == []
    assert answer.status_code == 200, answer.text
    found = order(api, t, order_id)
    assert found["status"] == "created"
    assert found["payments"][0]["status"] == "failed"


@pytest.fixture(scope="module")
def configured(db_url: str) -> Iterator[tuple[Any, Listener]]:
    """A server whose sandbox posts its events to a configured URL (a listener of ours)."""
    target = Listener()
    settings = app_settings(
        db_url,
        operator_email=OPERATOR_EMAIL,
        operator_password=OPERATOR_PASSWORD,
        sandbox_webhook_url=f"http://{target.address}/hooks/sandbox",
    )
    try:
        with served(settings) as (base, app):
            yield SimpleNamespace(base_url=base, settings=settings, app=app), target
    finally:
        target.close()


def test_a_configured_url_gets_the_signed_event_whatever_the_host_says(
    configured: tuple[Any, Listener], listener: Listener
) -> None:
    server, target = configured
    api = Api(server.base_url)
    try:
        token = ok(
            api.post(
                "/api/v1/platform/login",
                json={"email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD},
            )
        )["token"]
        t = make_tenant(api, token)
        _, approve = _unpaid(api, t)
        before = len(target.heard)
        answer = api.http.post(
            approve, data={"outcome": "approve"}, headers={"Host": listener.address}
        )
    finally:
        api.http.close()
    time.sleep(0.2)
    assert listener.heard == []
    assert answer.status_code == 200, answer.text
    (sent,) = target.heard[before:]
    assert sent["path"] == "/hooks/sandbox"
    gateway = SandboxGateway(server.settings.secret_key.get_secret_value())
    event = gateway.verify_callback(sent["headers"], sent["body"], datetime.now(UTC))
    assert event.type == "payment.succeeded"
    assert event.tenant_id == t.tenant_id
