"""Orders over real HTTP: cart, checkout, the sandbox payment, states, rewards at ``grant_on``,
stable-point and mixed payments, refunds, cancellation and the payment timeout."""

from __future__ import annotations

from datetime import timedelta

from mall_api import Api, TenantFixture, make_tenant, ok
from orders_helpers import (
    add_to_cart,
    audit_clean,
    checkout,
    complete,
    economy,
    give_stable,
    holder,
    order,
    paid_order,
    sandbox_forms,
    sandbox_pay,
    second_merchant,
    settings,
    ship_and_confirm,
    signed_webhook,
    store_of,
    success_event,
)

from tokenmall.domain.money import parse_points
from tokenmall.services.mall.order_clock import cancel_expired_orders, complete_due_orders
from tokenmall.services.mall.uow import utc_now


def _stock(api: Api, t: TenantFixture, sku_id: str | None = None) -> int:
    return int(ok(api.get(t.path(f"/skus/{sku_id or t.sku_id}"), t.admin_token))["stock"])


def test_end_to_end_cart_checkout_sandbox_ship_confirm_complete_rewards(
    api: Api, tenant: TenantFixture, server: object
) -> None:
    t = tenant
    add_to_cart(api, t, quantity=1)
    cart = add_to_cart(api, t, quantity=1)  # added to the same line
    assert [(x["sku_id"], x["quantity"]) for x in cart["lines"]] == [(t.sku_id, 2)]
    assert cart["total"] == "200.00"
    assert cart["lines"][0]["available"] is True
    before = economy(server, t)

    done = checkout(api, t)  # from the cart
    (placed,) = done["orders"]
    (payment,) = done["payments"]
    assert placed["status"] == "created"
    assert placed["total"] == "200.00"
    assert placed["money_amount"] == "200.00"
    assert placed["stable_amount"] == "0.00"
    assert placed["lines"][0]["pool_contribution"] == "30.00"
    assert payment["status"] == "pending"
    assert payment["amount"] == "200.00"
    assert ok(api.get(t.path("/cart"), t.consumer_token))["lines"] == []
    assert _stock(api, t) == 8  # reserved at checkout
    assert economy(server, t) == before  # no money yet

    # The payer presses Approve on the sandbox page; its signed webhook marks the order paid.
    page = sandbox_pay(api, payment["redirect_url"])
    assert page.status_code == 200
    assert "已通知商城" in page.text
    paid = order(api, t, placed["order_id"], t.consumer_token)
    assert paid["status"] == "paid"
    assert paid["payments"][0]["status"] == "succeeded"
    assert paid["rewards"]["booked"] is False  # grant_on is "completed" by default
    state = economy(server, t)
    assert state["escrow"] == 20_000
    assert state["money_in"] == 20_000
    # The page now says it is paid and offers no buttons.
    assert sandbox_forms(api, payment["redirect_url"]) == {}

    ship_and_confirm(api, t, placed["order_id"])
    assert order(api, t, placed["order_id"])["status"] == "received"
    # The return window (7 days by default) is not over: run-due completes nothing.
    assert ok(api.post(t.path("/orders/run-due"), t.admin_token))["completed"] == 0
    done_order = complete(api, t, placed["order_id"])  # window 0 days, run-due
    rewards = done_order["rewards"]
    assert rewards["booked"] is True
    assert rewards["contribution"] == "60.00"
    points = parse_points(rewards["points"])
    assert points > 0
    assert holder(server, t, t.consumer_id)["points"] == points  # in the ledger
    state = economy(server, t)
    assert state["escrow"] == 0
    assert state["pool"] == 6_000
    assert state["money_in"] == 20_000
    steps = [(e["from_status"], e["to_status"]) for e in done_order["history"]]
    assert steps == [
        (None, "created"),
        ("created", "paid"),
        ("paid", "shipped"),
        ("shipped", "received"),
        ("received", "completed"),
    ]
    assert done_order["history"][1]["actor"] == "gateway:sandbox"
    assert done_order["carrier"] == "SF"
    audit_clean(server, t)
    # A completed order cannot be refunded or cancelled.
    answer = api.post(
        t.path(f"/orders/{placed['order_id']}/refunds"), t.consumer_token, json={"reason": "x"}
    )
    assert answer.status_code == 409


def test_checkout_splits_by_merchant_and_roles_see_their_orders(
    api: Api, tenant: TenantFixture
) -> None:
    t = tenant
    other_merchant, tea = second_merchant(api, t)
    done = checkout(api, t, [(t.sku_id, 1), (tea, 2)])
    assert len(done["orders"]) == 2
    assert len(done["payments"]) == 2
    by_merchant = {o["merchant_id"]: o for o in done["orders"]}
    assert by_merchant[t.merchant_id]["total"] == "100.00"
    assert by_merchant[other_merchant]["total"] == "100.00"
    assert len({o["checkout_id"] for o in done["orders"]}) == 1
    # The consumer sees both, the first merchant only theirs, the admin both.
    mine = ok(api.get(t.path("/orders"), t.consumer_token))["items"]
    assert len(mine) == 2
    seller = ok(api.get(t.path("/orders"), t.merchant_token))["items"]
    assert [o["merchant_id"] for o in seller] == [t.merchant_id]
    theirs = by_merchant[other_merchant]["order_id"]
    assert api.get(t.path(f"/orders/{theirs}"), t.merchant_token).status_code == 404
    assert len(ok(api.get(t.path("/orders?status=created"), t.admin_token))["items"]) == 2
    assert ok(api.get(t.path("/orders?status=paid"), t.admin_token))["items"] == []
    page = ok(api.get(t.path("/orders?limit=1"), t.admin_token))
    assert len(page["items"]) == 1
    assert page["next_after"] == page["items"][0]["order_id"]
    rest = ok(api.get(t.path(f"/orders?limit=1&after={page['next_after']}"), t.admin_token))
    assert rest["items"][0]["order_id"] != page["items"][0]["order_id"]
    # Another consumer of the same tenant sees none of them.
    ok(
        api.post(t.path("/register"), json={"email": "eve@shop.test", "password": "eve-password"}),
        201,
    )
    eve = ok(
        api.post(t.path("/login"), json={"email": "eve@shop.test", "password": "eve-password"})
    )["token"]
    assert ok(api.get(t.path("/orders"), eve))["items"] == []
    assert api.get(t.path(f"/orders/{theirs}"), eve).status_code == 404
    # Roles: a merchant may not check out, a consumer may not ship.
    answer = api.post(t.path("/checkout"), t.merchant_token, json={"lines": []})
    assert answer.status_code == 403
    answer = api.post(t.path(f"/orders/{theirs}/ship"), t.consumer_token)
    assert answer.status_code == 403
    # Unpaid orders cannot be shipped.
    mine_first = by_merchant[t.merchant_id]["order_id"]
    assert api.post(t.path(f"/orders/{mine_first}/ship"), t.merchant_token).status_code == 409


def test_grant_on_paid_books_rewards_at_payment_and_refund_is_an_admin_adjustment(
    api: Api, operator_token: str, server: object
) -> None:
    t = make_tenant(api, operator_token, params={"grant_on": "paid"})
    orders = [paid_order(api, t, quantity=2) for _ in range(3)]  # revenue to refund from
    first = orders[0]
    assert first["rewards"]["booked"] is True
    assert first["rewards"]["contribution"] == "60.00"
    points = holder(server, t, t.consumer_id)["points"]
    assert points == sum(parse_points(o["rewards"]["points"]) for o in orders)
    assert economy(server, t)["escrow"] == 0
    audit_clean(server, t)

    refund = ok(
        api.post(
            t.path(f"/orders/{first['order_id']}/refunds"),
            t.consumer_token,
            json={"reason": "broken bottle"},
        ),
        201,
    )
    assert refund["status"] == "requested"
    assert refund["adjustment"] is True
    path = t.path(f"/orders/{first['order_id']}/refunds/{refund['refund_id']}/approve")
    before = economy(server, t)
    answer = api.post(path, t.merchant_token)
    assert answer.status_code == 403, answer.text  # only an admin, once rewards are booked
    assert economy(server, t) == before
    decided = ok(api.post(path, t.admin_token, json={"note": "goodwill"}))
    assert decided["order"]["status"] == "refunded"
    assert decided["refund"]["status"] == "succeeded"
    assert decided["refund"]["adjustment"] is True
    after = economy(server, t)
    assert after["revenue"] == before["revenue"] - 20_000
    assert after["money_in"] == before["money_in"] - 20_000
    assert after["pool"] == before["pool"]  # the price's backing is untouched
    # Rule 9: the refunded order's granted points are burned.
    refunded_points = parse_points(first["rewards"]["points"])
    assert holder(server, t, t.consumer_id)["points"] == points - refunded_points
    assert _stock(api, t) == 10 - 6 + 2  # not shipped: the stock came back
    detail = order(api, t, first["order_id"])
    assert detail["payments"][0]["status"] == "refunded"
    audit_clean(server, t)


def test_refund_before_booking_returns_escrow_and_stock(
    api: Api, tenant: TenantFixture, server: object
) -> None:
    t = tenant
    before = economy(server, t)
    paid = paid_order(api, t, quantity=3)
    assert _stock(api, t) == 7
    assert economy(server, t)["escrow"] == 30_000
    refund = ok(
        api.post(
            t.path(f"/orders/{paid['order_id']}/refunds"),
            t.consumer_token,
            json={"reason": "changed my mind"},
        ),
        201,
    )
    assert refund["adjustment"] is False
    # One request at a time; shipping waits for the decision.
    again = api.post(
        t.path(f"/orders/{paid['order_id']}/refunds"), t.consumer_token, json={"reason": "x"}
    )
    assert again.status_code == 409
    assert api.post(t.path(f"/orders/{paid['order_id']}/ship"), t.merchant_token).status_code == 409
    decided = ok(
        api.post(
            t.path(f"/orders/{paid['order_id']}/refunds/{refund['refund_id']}/approve"),
            t.merchant_token,
        )
    )
    assert decided["order"]["status"] == "refunded"
    after = economy(server, t)
    assert after["escrow"] == 0
    assert after["money_in"] == before["money_in"]
    assert after["pool"] == before["pool"]
    assert after["revenue"] == before["revenue"]
    assert _stock(api, t) == 10
    assert order(api, t, paid["order_id"])["payments"][0]["status"] == "refunded"
    audit_clean(server, t)


def test_refund_rejected_then_order_completes(
    api: Api, tenant: TenantFixture, server: object
) -> None:
    t = tenant
    paid = paid_order(api, t)
    ship_and_confirm(api, t, paid["order_id"])
    refund = ok(
        api.post(
            t.path(f"/orders/{paid['order_id']}/refunds"), t.consumer_token, json={"reason": "r"}
        ),
        201,
    )
    settings(api, t, return_window_days=0)
    # A pending refund holds completion back.
    assert ok(api.post(t.path("/orders/run-due"), t.admin_token))["completed"] == 0
    rejected = ok(
        api.post(
            t.path(f"/orders/{paid['order_id']}/refunds/{refund['refund_id']}/reject"),
            t.merchant_token,
            json={"note": "as described"},
        )
    )
    assert rejected["status"] == "rejected"
    assert rejected["decision_note"] == "as described"
    assert ok(api.post(t.path("/orders/run-due"), t.admin_token))["completed"] == 1
    assert order(api, t, paid["order_id"])["rewards"]["booked"] is True
    audit_clean(server, t)


def test_pay_with_stable_points_and_mixed(api: Api, tenant: TenantFixture, server: object) -> None:
    t = tenant
    stable = give_stable(server, t, t.consumer_id, 100_000)
    assert stable >= 20_000
    before = economy(server, t)

    # All in stable points: paid at once, no gateway, no rewards (rule 4).
    done = checkout(api, t, [(t.sku_id, 1)], payment_method="stable")
    (whole,) = done["orders"]
    assert done["payments"] == []
    assert whole["status"] == "paid"
    assert whole["stable_amount"] == "100.00"
    assert whole["money_amount"] == "0.00"
    assert holder(server, t, t.consumer_id)["stable"] == stable - 10_000
    assert holder(server, t, t.merchant_id)["stable"] == 10_000
    assert economy(server, t)["money_in"] == before["money_in"]

    # Mixed: 30.00 in stable points, 70.00 through the gateway.
    done = checkout(api, t, [(t.sku_id, 1)], payment_method="mixed", stable_amount="30.00")
    (mixed,) = done["orders"]
    assert mixed["status"] == "created"
    assert (mixed["stable_amount"], mixed["money_amount"]) == ("30.00", "70.00")
    assert done["payments"][0]["amount"] == "70.00"
    assert holder(server, t, t.consumer_id)["stable"] == stable - 13_000
    sandbox_pay(api, done["payments"][0]["redirect_url"])
    assert economy(server, t)["escrow"] == 7_000

    settings(api, t, return_window_days=0)
    for placed in (whole, mixed):
        ship_and_confirm(api, t, placed["order_id"])
    assert ok(api.post(t.path("/orders/run-due"), t.admin_token))["completed"] == 2
    whole_done = order(api, t, whole["order_id"])
    assert whole_done["status"] == "completed"
    assert whole_done["rewards"]["booked"] is False
    mixed_done = order(api, t, mixed["order_id"])
    # The fixed 30.00 contribution scaled to the money part: floor(30 × 70 / 100) = 21.00.
    assert mixed_done["rewards"]["contribution"] == "21.00"
    after = economy(server, t)
    assert after["money_in"] == before["money_in"] + 7_000
    assert after["pool"] == before["pool"] + 2_100
    assert after["escrow"] == 0
    audit_clean(server, t)

    # Not enough stable points: refused, nothing reserved.
    stock = _stock(api, t)
    answer = api.post(
        t.path("/checkout"),
        t.consumer_token,
        json={"lines": [{"sku_id": t.sku_id, "quantity": 8}], "payment_method": "stable"},
    )
    assert answer.status_code == 409, answer.text
    assert _stock(api, t) == stock


def test_stable_points_come_back_on_cancel_and_refund(
    api: Api, tenant: TenantFixture, server: object
) -> None:
    t = tenant
    stable = give_stable(server, t, t.consumer_id, 100_000)
    done = checkout(api, t, [(t.sku_id, 1)], payment_method="mixed", stable_amount="40.00")
    (placed,) = done["orders"]
    assert holder(server, t, t.consumer_id)["stable"] == stable - 4_000
    cancelled = ok(
        api.post(t.path(f"/orders/{placed['order_id']}/cancel"), t.consumer_token, json={})
    )
    assert cancelled["status"] == "cancelled"
    assert cancelled["payments"][0]["status"] == "closed"
    assert holder(server, t, t.consumer_id)["stable"] == stable
    assert _stock(api, t) == 10
    # The closed payment's page offers nothing to press.
    assert sandbox_forms(api, done["payments"][0]["redirect_url"]) == {}

    done = checkout(api, t, [(t.sku_id, 2)], payment_method="stable")
    (whole,) = done["orders"]
    refund = ok(
        api.post(
            t.path(f"/orders/{whole['order_id']}/refunds"), t.consumer_token, json={"reason": "r"}
        ),
        201,
    )
    ok(
        api.post(
            t.path(f"/orders/{whole['order_id']}/refunds/{refund['refund_id']}/approve"),
            t.admin_token,
        )
    )
    assert holder(server, t, t.consumer_id)["stable"] == stable
    assert holder(server, t, t.merchant_id)["stable"] == 0
    assert _stock(api, t) == 10
    audit_clean(server, t)


def test_cancel_timeout_failed_payment_retry_and_late_payment(
    api: Api, tenant: TenantFixture, server: object
) -> None:
    t = tenant
    db = server.app.state.database  # type: ignore[attr-defined]
    # A failed payment may be retried on the same page.
    done = checkout(api, t, [(t.sku_id, 1)])
    (payment,) = done["payments"]
    page = sandbox_pay(api, payment["redirect_url"], "fail")
    assert page.status_code == 200
    detail = order(api, t, done["orders"][0]["order_id"])
    assert detail["status"] == "created"
    assert detail["payments"][0]["status"] == "failed"
    assert "上一次支付失败了，可以再试一次。" in api.http.get(payment["redirect_url"]).text
    assert "You may try again" in api.http.get(payment["redirect_url"], params={"lang": "en"}).text
    again = ok(api.post(t.path(f"/orders/{detail['order_id']}/payments"), t.consumer_token), 200)
    assert again["payment_id"] == payment["payment_id"]  # the open payment, not a second one
    sandbox_pay(api, payment["redirect_url"], "approve")
    assert order(api, t, detail["order_id"])["status"] == "paid"
    assert (
        api.post(t.path(f"/orders/{detail['order_id']}/cancel"), t.consumer_token).status_code
        == 409
    )

    # The payment timeout cancels an unpaid order and releases its stock.
    late = checkout(api, t, [(t.sku_id, 2)])
    late_order = late["orders"][0]["order_id"]
    assert _stock(api, t) == 7
    assert cancel_expired_orders(db, t.tenant_id, utc_now()) == 0
    assert cancel_expired_orders(db, t.tenant_id, utc_now() + timedelta(minutes=31)) == 1
    cancelled = order(api, t, late_order)
    assert cancelled["status"] == "cancelled"
    assert cancelled["history"][-1]["actor"] == "system"
    assert _stock(api, t) == 9
    # Money that still arrives for it is recorded and refunded at once, never kept.
    before = economy(server, t)
    answer = signed_webhook(api, server, success_event(late["payments"][0]))
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"].startswith("refunded")
    after = order(api, t, late_order)
    assert after["status"] == "cancelled"
    assert after["payments"][0]["status"] == "refunded"
    assert after["refunds"][0]["status"] == "succeeded"
    state = economy(server, t)
    assert state["escrow"] == before["escrow"]
    assert state["money_in"] == before["money_in"]
    assert state["journals"] == before["journals"] + 2  # the payment and its refund
    audit_clean(server, t)


def test_auto_confirm_and_completion_by_the_scheduler_functions(
    api: Api, tenant: TenantFixture, server: object
) -> None:
    t = tenant
    db = server.app.state.database  # type: ignore[attr-defined]
    paid = paid_order(api, t)
    ok(api.post(t.path(f"/orders/{paid['order_id']}/ship"), t.merchant_token))
    now = utc_now()
    assert complete_due_orders(db, t.tenant_id, now) == 0
    # 10 days after shipping the receipt is confirmed; 7 days after that it completes.
    assert complete_due_orders(db, t.tenant_id, now + timedelta(days=10, minutes=1)) == 0
    assert order(api, t, paid["order_id"])["status"] == "received"
    assert complete_due_orders(db, t.tenant_id, now + timedelta(days=17, minutes=2)) == 1
    done = order(api, t, paid["order_id"])
    assert done["status"] == "completed"
    assert done["rewards"]["booked"] is True
    # Run again (with the ledger's Store, and inside a caller's transaction): nothing to do.
    assert complete_due_orders(store_of(server), t.tenant_id, now + timedelta(days=30)) == 0
    with db.transaction() as conn:
        assert complete_due_orders(conn, t.tenant_id, now + timedelta(days=30)) == 0
        assert cancel_expired_orders(conn, t.tenant_id, now + timedelta(days=30)) == 0
    audit_clean(server, t)


def test_order_settings_and_cart_lines(api: Api, tenant: TenantFixture) -> None:
    t = tenant
    assert ok(api.get(t.path("/order-settings"), t.consumer_token)) == {
        "return_window_days": 7,
        "payment_timeout_minutes": 30,
        "auto_confirm_days": 10,
    }
    changed = settings(api, t, payment_timeout_minutes=15)
    assert changed["payment_timeout_minutes"] == 15
    assert changed["return_window_days"] == 7
    answer = api.patch(t.path("/order-settings"), t.merchant_token, json={"auto_confirm_days": 3})
    assert answer.status_code == 403
    add_to_cart(api, t, quantity=2)
    cart = ok(api.patch(t.path(f"/cart/lines/{t.sku_id}"), t.consumer_token, json={"quantity": 5}))
    assert cart["lines"][0]["quantity"] == 5
    assert cart["total"] == "500.00"
    cart = ok(api.call("DELETE", t.path(f"/cart/lines/{t.sku_id}"), t.consumer_token))
    assert cart["lines"] == []
    assert cart["total"] == "0.00"
    answer = api.call("DELETE", t.path(f"/cart/lines/{t.sku_id}"), t.consumer_token)
    assert answer.status_code == 404
    # Checkout of an empty cart is refused.
    answer = api.post(t.path("/checkout"), t.consumer_token, json={})
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "lines"
    # A hidden product cannot be put in the cart.
    ok(api.patch(t.path(f"/products/{t.product_id}"), t.merchant_token, json={"status": "hidden"}))
    answer = api.post(
        t.path("/cart/lines"), t.consumer_token, json={"sku_id": t.sku_id, "quantity": 1}
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "sku_id"


def test_checkout_replay_changes_nothing(api: Api, tenant: TenantFixture, server: object) -> None:
    t = tenant
    body = {"lines": [{"sku_id": t.sku_id, "quantity": 1}]}
    first = api.post(t.path("/checkout"), t.consumer_token, json=body, key="chk-1")
    again = api.post(t.path("/checkout"), t.consumer_token, json=body, key="chk-1")
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotency-Replayed"] == "true"
    assert again.json() == first.json()
    assert _stock(api, t) == 9
    assert len(ok(api.get(t.path("/orders"), t.consumer_token))["items"]) == 1
    other = api.post(
        t.path("/checkout"),
        t.consumer_token,
        json={"lines": [body["lines"][0] | {"quantity": 2}]},
        key="chk-1",
    )
    assert other.status_code == 409


def test_orders_list_newest_first_and_pages_with_after(api: Api, tenant: TenantFixture) -> None:
    t = tenant
    placed = [checkout(api, t, [(t.sku_id, 1)])["orders"][0]["order_id"] for _ in range(4)]
    newest_first = list(reversed(placed))
    for token in (t.consumer_token, t.merchant_token, t.admin_token):
        whole = ok(api.get(t.path("/orders"), token))
        assert [o["order_id"] for o in whole["items"]] == newest_first
        assert whole["next_after"] is None
        seen: list[str] = []
        cursor = ""
        while True:
            page = ok(api.get(t.path(f"/orders?limit=3{cursor}"), token))
            seen += [o["order_id"] for o in page["items"]]
            if page["next_after"] is None:
                break
            assert page["next_after"] == page["items"][-1]["order_id"]
            cursor = f"&after={page['next_after']}"
        assert seen == newest_first
    older = ok(api.get(t.path(f"/orders?after={placed[2]}"), t.admin_token))["items"]
    assert [o["order_id"] for o in older] == [placed[1], placed[0]]
