"""Bad input on every write endpoint of carts, checkout, orders, refunds, settings and payments:
a 4xx with a clear message, and a snapshot of the tenant's orders, cart, stock, settings and
ledger exactly as before."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from mall_api import Api, TenantFixture, ok
from orders_helpers import add_to_cart, checkout, economy, paid_order

MISSING = object()
QUANTITY_BAD: list[Any] = [-1, 0, "5", 1.5, 1e3, 10**12, 2**70, True, None, "abc", 10_000]
MONEY_BAD: list[Any] = [
    "-1.00",
    "0",
    "0.00",
    "abc",
    "1e3",
    100,
    12.5,
    "12.345",
    "99999999999.00",
    "",
    " ",
    True,
    "NaN",
    "Infinity",
    "１２",
    "100.00",  # not less than the total: pay it all with payment_method "stable"
]
TEXT_BAD: list[Any] = ["", "   ", "x" * 6000, 123, ["a"]]
DAYS_BAD: list[Any] = [-1, 100_000, "5", 1.5, True, 10**12, [1]]


def _spoil(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    spoiled = copy.deepcopy(body)
    *parents, last = path.split(".")
    target: Any = spoiled
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is MISSING:
        del target[last]
    else:
        target[last] = value
    return spoiled


@pytest.fixture
def world(api: Api, tenant: TenantFixture) -> dict[str, Any]:
    t = tenant
    paid = paid_order(api, t)
    refund = ok(
        api.post(
            t.path(f"/orders/{paid['order_id']}/refunds"), t.consumer_token, json={"reason": "r"}
        ),
        201,
    )
    unpaid = checkout(api, t, [(t.sku_id, 1)])["orders"][0]
    add_to_cart(api, t, quantity=1)
    return {"paid": paid["order_id"], "refund": refund["refund_id"], "unpaid": unpaid["order_id"]}


def _snapshot(api: Api, t: TenantFixture, server: Any) -> object:
    orders = ok(api.get(t.path("/orders?limit=200"), t.admin_token))["items"]
    details = [ok(api.get(t.path(f"/orders/{o['order_id']}"), t.admin_token)) for o in orders]
    return (
        details,
        ok(api.get(t.path("/cart"), t.consumer_token)),
        ok(api.get(t.path(f"/skus/{t.sku_id}"), t.admin_token)),
        ok(api.get(t.path("/order-settings"), t.admin_token)),
        economy(server, t),
    )


def _cases(
    t: TenantFixture, w: dict[str, Any]
) -> list[tuple[str, str, str, dict[str, Any], str, Any]]:
    """(who, method, path, valid body, field to spoil, value)."""
    cart_add = {"sku_id": t.sku_id, "quantity": 1}
    lines = {
        "lines": [{"sku_id": t.sku_id, "quantity": 1}],
        "payment_method": "mixed",
        "stable_amount": "10.00",
    }
    out: list[tuple[str, str, str, dict[str, Any], str, Any]] = []
    add = out.append
    for v in [*QUANTITY_BAD, MISSING]:
        add(("consumer", "POST", "/cart/lines", cart_add, "quantity", v))
        add(("consumer", "PATCH", f"/cart/lines/{t.sku_id}", {"quantity": 1}, "quantity", v))
        add(("consumer", "POST", "/checkout", lines, "lines.0.quantity", v))
    for v in ["", "nope", 5, None, "x" * 100, MISSING]:
        add(("consumer", "POST", "/cart/lines", cart_add, "sku_id", v))
        add(("consumer", "POST", "/checkout", lines, "lines.0.sku_id", v))
    for v in [*MONEY_BAD, None]:
        add(("consumer", "POST", "/checkout", lines, "stable_amount", v))
    for v in ["card", "", None, 1, "STABLE"]:
        add(("consumer", "POST", "/checkout", lines, "payment_method", v))
    for v in [[], "x", [{"sku_id": t.sku_id}], [{"sku_id": t.sku_id, "quantity": 1}] * 2, None]:
        add(("consumer", "POST", "/checkout", lines, "lines", v))
    add(("consumer", "POST", "/checkout", lines, "lines", [cart_add] * 51))
    add(("consumer", "POST", "/checkout", lines, "coupon", "FREE"))
    add(("consumer", "POST", "/checkout", lines, "lines.0.price", "0.01"))
    add(("consumer", "POST", "/cart/lines", cart_add, "price", "0.01"))
    plain = {"lines": [{"sku_id": t.sku_id, "quantity": 1}]}
    add(("consumer", "POST", "/checkout", plain, "stable_amount", "10.00"))  # not mixed
    for name in ("return_window_days", "payment_timeout_minutes", "auto_confirm_days"):
        for v in DAYS_BAD:
            add(("admin", "PATCH", "/order-settings", {name: 3}, name, v))
    add(("admin", "PATCH", "/order-settings", {"auto_confirm_days": 3}, "auto_confirm_days", 0))
    add(("admin", "PATCH", "/order-settings", {"auto_confirm_days": 3}, "auto_confirm_days", None))
    add(
        (
            "admin",
            "PATCH",
            "/order-settings",
            {"payment_timeout_minutes": 3},
            "payment_timeout_minutes",
            0,
        )
    )
    add(("admin", "PATCH", "/order-settings", {"return_window_days": 3}, "grace", 1))
    paid, unpaid, refund = w["paid"], w["unpaid"], w["refund"]
    for v in [*TEXT_BAD, None, MISSING]:
        add(("consumer", "POST", f"/orders/{paid}/refunds", {"reason": "r"}, "reason", v))
    for v in [123, "", "x" * 200, ["a"]]:
        add(("merchant", "POST", f"/orders/{paid}/ship", {"carrier": "SF"}, "carrier", v))
        add(("merchant", "POST", f"/orders/{paid}/ship", {"carrier": "SF"}, "tracking_number", v))
    for v in [123, "x" * 600, ["a"], "   "]:
        add(("consumer", "POST", f"/orders/{unpaid}/cancel", {"reason": "r"}, "reason", v))
        add(("admin", "POST", f"/orders/{paid}/refunds/{refund}/approve", {"note": "n"}, "note", v))
        add(("admin", "POST", f"/orders/{paid}/refunds/{refund}/reject", {"note": "n"}, "note", v))
    add(("consumer", "POST", f"/orders/{unpaid}/cancel", {"reason": "r"}, "why", "x"))
    add(("merchant", "POST", f"/orders/{paid}/ship", {"carrier": "SF"}, "status", "shipped"))
    add(("admin", "POST", f"/orders/{paid}/refunds/{refund}/approve", {"note": "n"}, "amount", "1"))
    return out


def test_bad_input_on_every_order_write_is_refused_and_changes_nothing(
    api: Api, tenant: TenantFixture, server: Any, world: dict[str, Any]
) -> None:
    t = tenant
    tokens = {"consumer": t.consumer_token, "merchant": t.merchant_token, "admin": t.admin_token}
    before = _snapshot(api, t, server)
    cases = _cases(t, world)
    assert len(cases) > 120
    for who, method, path, body, field, value in cases:
        sent = _spoil(body, field, value)
        answer = api.call(method, t.path(path), tokens[who], sent)
        case = (method, path, field, repr(value)[:40], answer.status_code, answer.text[:200])
        assert 400 <= answer.status_code < 500, case
        assert answer.status_code != 404, case
        error = answer.json()["error"]
        assert error["message"], case
        assert error["code"], case
        assert "Traceback" not in answer.text, case
    assert _snapshot(api, t, server) == before


def test_writes_without_an_idempotency_key_are_refused(
    api: Api, tenant: TenantFixture, server: Any, world: dict[str, Any]
) -> None:
    t = tenant
    before = _snapshot(api, t, server)
    calls = [
        ("POST", "/cart/lines", t.consumer_token, {"sku_id": t.sku_id, "quantity": 1}),
        ("PATCH", f"/cart/lines/{t.sku_id}", t.consumer_token, {"quantity": 2}),
        ("DELETE", f"/cart/lines/{t.sku_id}", t.consumer_token, None),
        ("POST", "/checkout", t.consumer_token, {}),
        ("POST", f"/orders/{world['unpaid']}/cancel", t.consumer_token, None),
        ("POST", f"/orders/{world['unpaid']}/payments", t.consumer_token, None),
        ("POST", f"/orders/{world['paid']}/refunds", t.consumer_token, {"reason": "r"}),
        ("POST", f"/orders/{world['paid']}/confirm", t.consumer_token, None),
        ("POST", f"/orders/{world['paid']}/ship", t.merchant_token, None),
        ("POST", f"/orders/{world['paid']}/refunds/{world['refund']}/approve", t.admin_token, None),
        ("POST", f"/orders/{world['paid']}/refunds/{world['refund']}/reject", t.admin_token, None),
        ("POST", "/orders/run-due", t.admin_token, None),
        ("PATCH", "/order-settings", t.admin_token, {"return_window_days": 1}),
    ]
    for method, path, token, body in calls:
        answer = api.call(method, t.path(path), token, body, key=None)
        assert answer.status_code == 400, (method, path, answer.text)
        assert answer.json()["error"]["field"] == "Idempotency-Key"
    assert _snapshot(api, t, server) == before
