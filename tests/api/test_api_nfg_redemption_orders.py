"""A redemption (提货) is a mall order, over real HTTP on SQLite and PostgreSQL: made paid by the
token (total 0, no journal), listed for the merchant with the redemption named, shipped with the
orders' ship action, received by its owner or confirmed by the order clock (the token burned
and logged in that transaction), cancelled before shipping by its owner or merchant (the token
held again); never refunded; a token in redemption neither redeemed again, given, transferred
nor listed; the ledger untouched, the audit and ``log verify`` clean."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from mall_api import Api, TenantFixture, ok
from nfg_helpers import log_verify
from orders_helpers import audit_clean, economy, settings
from test_api_nfg_rights import _address, _burned, _collection, _db, _log, _redeem, _state, _stock

from tokenmall.domain.nfg.records import TokenState
from tokenmall.domain.nfg.rights import Rights
from tokenmall.services.mall import order_clock
from tokenmall.services.mall.uow import utc_now

LEDGER = ("journals", "escrow", "money_in", "revenue", "pool", "stable_outstanding", "circulating")


def _ledger(server: Any, t: TenantFixture) -> dict[str, int]:
    found = economy(server, t)
    return {name: found[name] for name in LEDGER}


def _bottle(server: Any, t: TenantFixture) -> str:
    return _collection(
        server, t, Rights(voucher_sku_id=t.sku_id), name="年份酒", owners=[t.consumer_id]
    )


def _order(api: Api, t: TenantFixture, order_id: str, token: str | None = None) -> Any:
    return ok(api.get(t.path(f"/orders/{order_id}"), token or t.consumer_token))


def _kinds(api: Api, t: TenantFixture, collection_id: str) -> list[str]:
    return [
        leaf["type"]
        for leaf in _log(api, t)
        if leaf.get("collection") == collection_id or leaf.get("collection_id") == collection_id
    ]


def _everything(api: Api, server: Any, t: TenantFixture, collection_id: str) -> Any:
    """What a refused request must leave as it was."""
    with _db(server).reading() as unit:
        orders = unit.orders.query(
            t.tenant_id,
            user_id=None,
            merchant_id=None,
            status=None,
            after=None,
            limit=1000,
            checkout_id=None,
        )
        token = unit.nfg.get_token(t.tenant_id, collection_id, 1)
        redemptions = unit.redemptions.query(t.tenant_id)
        refunds = [unit.refunds.of_order(t.tenant_id, o.order_id) for o in orders]
        history = [unit.orders.history(t.tenant_id, o.order_id) for o in orders]
    return (orders, token, redemptions, refunds, history, len(_log(api, t)), _stock(api, t))


def test_redeemed_shipped_received_the_token_burns_and_no_money_moves(
    api: Api, tenant: TenantFixture, server: Any, db_url: str
) -> None:
    t = tenant
    bottle = _bottle(server, t)
    address = _address(api, t)
    ledger, stock = _ledger(server, t), _stock(api, t)
    asked = ok(_redeem(api, t, bottle, address_id=address), 201)
    assert asked["status"] == "requested"
    assert asked["paid_by"] == "token"
    order_id = asked["order_id"]
    # The order: paid by the token, total 0, one unit of the SKU to the owner's address.
    mine = _order(api, t, order_id)
    assert mine["status"] == "paid"
    assert (mine["total"], mine["money_amount"], mine["stable_amount"]) == ("0.00",) * 3
    assert mine["nfg_redemption"] == {
        "redemption_id": asked["redemption_id"],
        "collection_id": bottle,
        "serial": 1,
        "token": f"{bottle}/1",
        "paid_by": "nfg_redemption",
    }
    assert [(line["sku_id"], line["quantity"]) for line in mine["lines"]] == [(t.sku_id, 1)]
    assert mine["shipping_address"]["recipient"] == "张三"
    assert mine["rewards"]["booked"] is False
    assert [o["order_id"] for o in ok(api.get(t.path("/orders"), t.consumer_token))["items"]] == [
        order_id
    ]
    # The merchant's and the admin's order lists have it, the redemption named.
    for staff in (t.merchant_token, t.admin_token):
        listed = ok(api.get(t.path("/orders"), staff))["items"]
        assert [(o["order_id"], o["nfg_redemption"]["token"]) for o in listed] == [
            (order_id, f"{bottle}/1")
        ]
    assert _state(server, t, bottle) == TokenState.REDEEMING
    assert _stock(api, t) == stock - 1
    # Shipped with the orders' own ship action.
    path = t.path(f"/orders/{order_id}")
    shipped = ok(
        api.post(
            f"{path}/ship",
            t.merchant_token,
            json={"carrier": "顺丰", "tracking_number": "SF123456789"},
        )
    )
    assert shipped["status"] == "shipped"
    seen = ok(api.get(t.path(f"/nfg/redemptions/{asked['redemption_id']}"), t.consumer_token))
    assert (seen["status"], seen["tracking_number"], seen["order_id"]) == (
        "shipped",
        "SF123456789",
        order_id,
    )
    assert _state(server, t, bottle) == TokenState.REDEEMING
    # Received by its owner: the token burns, and the log says so, in that transaction.
    assert ok(api.post(f"{path}/confirm", t.consumer_token))["status"] == "received"
    assert _state(server, t, bottle) == TokenState.REDEEMED
    assert _burned(server, t, bottle) == 1
    assert _kinds(api, t, bottle) == [
        "collection_created",
        "mint",
        "redemption_requested",
        "redemption_delivered",
    ]
    done = ok(api.get(t.path(f"/nfg/redemptions/{asked['redemption_id']}"), t.consumer_token))
    assert (done["status"], done["closed_by"]) == ("delivered", t.consumer_id)
    uses = ok(api.get(t.path(f"/nfg/tokens/{bottle}/1/uses"), t.consumer_token))["uses"]
    assert [u["right"] for u in uses] == ["voucher"]
    # The return window closes: completed, still no journal of any kind for it.
    settings(api, t, return_window_days=0)
    ok(api.post(t.path("/orders/run-due"), t.admin_token))
    final = _order(api, t, order_id)
    assert final["status"] == "completed"
    assert final["rewards"]["booked"] is False
    assert _ledger(server, t) == ledger
    assert _stock(api, t) == stock - 1
    audit_clean(server, t)
    clean = log_verify(db_url, t.tenant_id)
    assert clean.returncode == 0, clean.stdout + clean.stderr


def test_the_order_clock_confirms_receipt_and_burns_the_token(
    api: Api, tenant: TenantFixture, server: Any
) -> None:
    t = tenant
    bottle = _bottle(server, t)
    ledger = _ledger(server, t)
    asked = ok(_redeem(api, t, bottle, address_id=_address(api, t)), 201)
    ok(api.post(t.path(f"/orders/{asked['order_id']}/ship"), t.merchant_token, json={}))
    days = settings(api, t, auto_confirm_days=2)["auto_confirm_days"]
    later = utc_now() + timedelta(days=days, hours=1)
    order_clock.complete_due_orders(_db(server), t.tenant_id, later)
    assert _order(api, t, asked["order_id"])["status"] in ("received", "completed")
    assert _state(server, t, bottle) == TokenState.REDEEMED
    delivered = [leaf for leaf in _log(api, t) if leaf["type"] == "redemption_delivered"]
    assert [(leaf["redemption"], leaf["by"]) for leaf in delivered] == [
        (asked["redemption_id"], "system")
    ]
    assert _ledger(server, t) == ledger
    audit_clean(server, t)


def test_cancelled_before_shipping_the_token_is_held_again(
    api: Api, tenant: TenantFixture, server: Any
) -> None:
    t = tenant
    bottle = _bottle(server, t)
    address = _address(api, t)
    stock, ledger = _stock(api, t), _ledger(server, t)
    # Its owner, through the redemption's route.
    first = ok(_redeem(api, t, bottle, address_id=address), 201)
    cancel = t.path(f"/nfg/redemptions/{first['redemption_id']}/cancel")
    called_off = ok(api.post(cancel, t.consumer_token, json={"reason": "changed my mind"}))
    assert called_off["status"] == "cancelled"
    assert _order(api, t, first["order_id"])["status"] == "cancelled"
    assert _state(server, t, bottle) == TokenState.HELD
    assert _stock(api, t) == stock
    # Its merchant, through the order's route.
    second = ok(_redeem(api, t, bottle, address_id=address), 201)
    cancelled = ok(
        api.post(t.path(f"/orders/{second['order_id']}/cancel"), t.merchant_token, json={})
    )
    assert cancelled["status"] == "cancelled"
    assert _state(server, t, bottle) == TokenState.HELD
    assert _stock(api, t) == stock
    leaves = [leaf for leaf in _log(api, t) if leaf["type"].startswith("redemption_")]
    assert [(leaf["type"], leaf.get("by"), leaf.get("reason")) for leaf in leaves] == [
        ("redemption_requested", None, None),
        ("redemption_cancelled", t.consumer_id, "changed my mind"),
        ("redemption_requested", None, None),
        ("redemption_cancelled", t.merchant_user_id, None),
    ]
    # Once shipped it can no longer be called off: refused, nothing changed.
    third = ok(_redeem(api, t, bottle, address_id=address), 201)
    ok(api.post(t.path(f"/orders/{third['order_id']}/ship"), t.merchant_token, json={}))
    before = _everything(api, server, t, bottle)
    for token, path in (
        (t.consumer_token, t.path(f"/orders/{third['order_id']}/cancel")),
        (t.merchant_token, t.path(f"/orders/{third['order_id']}/cancel")),
        (t.consumer_token, t.path(f"/nfg/redemptions/{third['redemption_id']}/cancel")),
        (t.merchant_token, t.path(f"/nfg/redemptions/{third['redemption_id']}/cancel")),
    ):
        refused = api.post(path, token, json={})
        assert refused.status_code == 409, refused.text
    assert _everything(api, server, t, bottle) == before
    assert _ledger(server, t) == ledger
    audit_clean(server, t)


def test_a_token_in_redemption_is_not_redeemed_given_or_listed_and_never_refunded(
    api: Api, tenant: TenantFixture, server: Any
) -> None:
    t = tenant
    bottle = _bottle(server, t)
    address = _address(api, t)
    asked = ok(_redeem(api, t, bottle, address_id=address), 201)
    order_path = t.path(f"/orders/{asked['order_id']}")
    ledger = _ledger(server, t)
    before = _everything(api, server, t, bottle)
    token = {"collection_id": bottle, "serial": 1}
    attempts = (
        ("redeem again", t.path("/nfg/redemptions"), {**token, "address_id": address}),
        ("give", t.path("/market/gifts"), {**token, "to_user_id": t.merchant_user_id}),
        (
            "transfer",
            t.path(f"/nfg/tokens/{bottle}/1/transfer"),
            {"to_user_id": t.merchant_user_id},
        ),
        ("list", t.path("/market/orders/list"), {**token, "price": "9.00"}),
        ("refund", f"{order_path}/refunds", {"reason": "不想要了"}),
    )
    for what, path, body in attempts:
        refused = api.post(path, t.consumer_token, json=body)
        assert 400 <= refused.status_code < 500, (what, refused.text)
        if what == "refund":
            assert refused.status_code == 409
            assert refused.json()["error"]["field"] == "order_id"
            assert "nothing to refund" in refused.json()["error"]["message"]
        elif what in ("redeem again", "transfer", "give"):
            assert "token_locked" in refused.json()["error"]["message"], (what, refused.text)
    assert _everything(api, server, t, bottle) == before
    # Shipped and received, a refund is refused just the same.
    ok(api.post(f"{order_path}/ship", t.merchant_token, json={}))
    ok(api.post(f"{order_path}/confirm", t.consumer_token))
    later = api.post(f"{order_path}/refunds", t.consumer_token, json={"reason": "坏了"})
    assert later.status_code == 409, later.text
    assert ok(api.get(order_path, t.admin_token))["refunds"] == []
    assert _ledger(server, t) == ledger
    audit_clean(server, t)
