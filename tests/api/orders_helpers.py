"""Helpers for tests that need carts, orders and payments over HTTP (other suites may reuse them:
``paid_order`` makes an order paid through the sandbox gateway's page and webhook)."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import httpx
from mall_api import Api, TenantFixture, ok
from sqlalchemy import func, select

from tokenmall.adapters.db.mall.payments import payment_callbacks
from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.tables import holders, journals
from tokenmall.adapters.payments.sandbox import derive_secret, sign
from tokenmall.bootstrap import payment_gateway
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.money import format_money
from tokenmall.services.ledger.audit import audit
from tokenmall.services.ledger.execute import execute
from tokenmall.services.mall import paid_callbacks
from tokenmall.services.mall.uow import Database, utc_now

_FORM = re.compile(
    r'<form method="post" action="([^"]+)"><input type="hidden" name="outcome" value="(\w+)">'
)


def store_of(server: Any) -> Store:
    """A ledger store on the server's own database (same engine)."""
    return Store(server.app.state.database.engine)


def add_to_cart(api: Api, t: TenantFixture, sku_id: str | None = None, quantity: int = 1) -> Any:
    body = {"sku_id": sku_id or t.sku_id, "quantity": quantity}
    return ok(api.post(t.path("/cart/lines"), t.consumer_token, json=body))


def checkout(
    api: Api,
    t: TenantFixture,
    lines: list[tuple[str, int]] | None = None,
    token: str | None = None,
    **plan: Any,
) -> Any:
    body: dict[str, Any] = dict(plan)
    if lines is not None:
        body["lines"] = [{"sku_id": s, "quantity": q} for s, q in lines]
    return ok(api.post(t.path("/checkout"), token or t.consumer_token, json=body), 201)


def sandbox_forms(api: Api, redirect_url: str) -> dict[str, str]:
    """The sandbox page's forms: {outcome: action path}."""
    page = api.http.get(redirect_url)
    assert page.status_code == 200, page.text
    return {outcome: action for action, outcome in _FORM.findall(page.text)}


def sandbox_pay(api: Api, redirect_url: str, outcome: str = "approve") -> httpx.Response:
    """Press Approve (or Fail) on the sandbox's payment page, as a person would."""
    forms = sandbox_forms(api, redirect_url)
    assert outcome in forms, f"no {outcome} form on the page: {forms}"
    return api.http.post(forms[outcome], data={"outcome": outcome})


def order(api: Api, t: TenantFixture, order_id: str, token: str | None = None) -> Any:
    return ok(api.get(t.path(f"/orders/{order_id}"), token or t.admin_token))


def paid_order(
    api: Api, t: TenantFixture, quantity: int = 1, sku_id: str | None = None
) -> dict[str, Any]:
    """Check out ``quantity`` of the SKU and pay it through the sandbox: the paid order."""
    done = checkout(api, t, [(sku_id or t.sku_id, quantity)])
    (payment,) = done["payments"]
    answer = sandbox_pay(api, payment["redirect_url"])
    assert answer.status_code == 200, answer.text
    found = order(api, t, done["orders"][0]["order_id"])
    assert found["status"] == "paid", found
    return dict(found)


def payment_fen(payment: dict[str, Any]) -> int:
    """A payment's amount (a Decimal string of yuan) in fen."""
    yuan, _, fen = str(payment["amount"]).partition(".")
    return int(yuan) * 100 + int((fen + "00")[:2])


def paid_by_callback(db: Database, server: Any, api: Api, t: TenantFixture) -> str:
    """A new order paid by a sandbox callback through ``db``'s writer (another engine: its
    own writers and caches, as another process has): its id."""
    done = checkout(api, t, [(t.sku_id, 1)])
    payment = done["payments"][0]
    ref = payment["redirect_url"].rsplit("/", 1)[1]
    gateway: Any = payment_gateway(
        True, server.settings.secret_key.get_secret_value(), server.base_url
    )
    now = utc_now()
    body = gateway.event_body(
        provider_ref=ref, outcome="payment.succeeded", amount_fen=payment_fen(payment), now=now
    )
    result = paid_callbacks.handle_callback(
        db, gateway, gateway.signed_headers(body, now), body, now
    )
    assert result.order_status == "paid"
    return str(done["orders"][0]["order_id"])


def settings(api: Api, t: TenantFixture, **values: int) -> Any:
    return ok(api.patch(t.path("/order-settings"), t.admin_token, json=values))


def ship_and_confirm(api: Api, t: TenantFixture, order_id: str) -> None:
    ok(api.post(t.path(f"/orders/{order_id}/ship"), t.merchant_token, json={"carrier": "SF"}))
    ok(api.post(t.path(f"/orders/{order_id}/confirm"), t.consumer_token))


def complete(api: Api, t: TenantFixture, order_id: str) -> dict[str, Any]:
    """Ship and confirm (if paid), close the return window (0 days) and run the due orders."""
    if order(api, t, order_id)["status"] == "paid":
        ship_and_confirm(api, t, order_id)
    settings(api, t, return_window_days=0)
    ok(api.post(t.path("/orders/run-due"), t.admin_token))
    found = order(api, t, order_id)
    assert found["status"] == "completed", found
    return dict(found)


def give_stable(server: Any, t: TenantFixture, user: str, amount_fen: int) -> int:
    """Give ``user`` stable points through the ledger: a purchase, then Convert of its points.
    Returns the user's stable balance."""
    store = store_of(server)
    key = uuid.uuid4().hex
    execute(
        store,
        c.Purchase(
            tenant_id=t.tenant_id, idempotency_key=f"{key}:buy", user=user, amount_fen=amount_fen
        ),
    )
    units = holder(server, t, user)["points"]
    execute(
        store,
        c.Convert(tenant_id=t.tenant_id, idempotency_key=f"{key}:cv", user=user, units=units),
    )
    return int(holder(server, t, user)["stable"])


def holder(server: Any, t: TenantFixture, name: str) -> dict[str, Any]:
    with store_of(server).read() as conn:
        row = conn.execute(
            select(holders).where(holders.c.tenant_id == t.tenant_id, holders.c.name == name)
        ).first()
    return {} if row is None else dict(row._mapping)


def economy(server: Any, t: TenantFixture) -> dict[str, int]:
    store = store_of(server)
    with store.read() as conn:
        state, last = store.load_state(conn, t.tenant_id)
        count = conn.execute(
            select(func.count()).select_from(journals).where(journals.c.tenant_id == t.tenant_id)
        ).scalar_one()
    names = ("escrow", "money_in", "revenue", "pool", "stable_outstanding", "circulating")
    return {"journals": int(count), "last": last, **{n: getattr(state, n) for n in names}}


def audit_clean(server: Any, t: TenantFixture) -> None:
    (report,) = audit(store_of(server), t.tenant_id)
    assert report.findings == [], report.findings


def signed_webhook(
    api: Api,
    server: Any,
    event: dict[str, Any],
    *,
    timestamp: int | None = None,
    secret: bytes | None = None,
) -> httpx.Response:
    """POST a sandbox event to the webhook as the sandbox would (or forged: another secret,
    another timestamp)."""
    data = json.dumps(event, separators=(",", ":")).encode()
    ts = str(int(time.time()) if timestamp is None else timestamp)
    key = secret or derive_secret(server.settings.secret_key.get_secret_value())
    headers = {
        "Content-Type": "application/json",
        "X-Sandbox-Timestamp": ts,
        "X-Sandbox-Signature": sign(key, ts, data),
    }
    return api.http.post("/api/v1/payments/webhooks/sandbox", content=data, headers=headers)


def success_event(payment: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    ref = payment["redirect_url"].rsplit("/", 1)[1]
    return {
        "event_id": event_id or f"evt_{uuid.uuid4().hex}",
        "type": "payment.succeeded",
        "payment_ref": ref,
        "amount": payment["amount"],
        "created_at": "2026-11-30T00:00:00+00:00",
    }


def money(fen: int) -> str:
    return format_money(fen)


def second_merchant(api: Api, t: TenantFixture) -> tuple[str, str]:
    """Another merchant with a product and a SKU (price 50.00, no fixed contribution)."""
    seller = ok(
        api.post(
            t.path("/users"),
            t.admin_token,
            json={"email": "shop2@shop.test", "password": "seller-password", "role": "merchant"},
        ),
        201,
    )
    merchant = ok(
        api.post(
            t.path("/merchants"),
            t.admin_token,
            json={"name": "Tea House", "owner_user_id": seller["user_id"]},
        ),
        201,
    )
    product = ok(
        api.post(
            t.path("/products"),
            t.admin_token,
            json={"title": "Green tea", "merchant_id": merchant["merchant_id"]},
        ),
        201,
    )
    sku = ok(
        api.post(
            t.path(f"/products/{product['product_id']}/skus"),
            t.admin_token,
            json={"name": "250g", "price": "50.00", "stock": 5},
        ),
        201,
    )
    return str(merchant["merchant_id"]), str(sku["sku_id"])


def order_state(api: Api, t: TenantFixture, server: Any, order_id: str) -> object:
    """An order as its owner sees it, with the tenant's economy: what a refused callback must
    leave unchanged."""
    detail = order(api, t, order_id)
    return (detail["status"], detail["payments"], detail["history"], economy(server, t))


def callbacks_of(server: Any, payment_id: str) -> list[tuple[str, str]]:
    """A payment's recorded callbacks: (outcome, reason code), oldest first."""
    with server.app.state.database.read() as conn:
        rows = conn.execute(
            select(payment_callbacks.c.outcome, payment_callbacks.c.reason)
            .where(payment_callbacks.c.payment_id == payment_id)
            .order_by(payment_callbacks.c.callback_id)
        )
        return [(row.outcome, row.reason.split(":")[0]) for row in rows]
