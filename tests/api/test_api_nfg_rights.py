"""NFG rights the mall enforces, over real HTTP on SQLite and PostgreSQL: ``may_buy`` at
checkout, the held ``discount`` named on the order, the ``voucher`` redeemed once, the
``entry`` right scanned and logged, redemption (提货) locked, delivered (burned) or cancelled
(unlocked), and bad input refused naming its field with nothing changed."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from mall_api import Api, TenantFixture, login, ok
from orders_helpers import audit_clean, checkout, complete, economy, order, sandbox_pay

from tokenmall.demo.nfg import add_collection, mint
from tokenmall.domain.nfg.records import Collection, CollectionStatus, PriceAsset, TokenState
from tokenmall.domain.nfg.rights import Rights
from tokenmall.services.mall.uow import Database, utc_now

HOME = {
    "recipient": "张三",
    "phone": "13800138000",
    "region": "浙江省 杭州市 西湖区",
    "detail": "文三路 100 号 2 幢 301 室",
    "postal_code": "310000",
}


def _db(server: Any) -> Database:
    found: Database = server.app.state.database
    return found


def _collection(
    server: Any,
    t: TenantFixture,
    rights: Rights,
    *,
    name: str = "黑卡",
    linked_sku_id: str | None = None,
    owners: Sequence[str] = (),
) -> str:
    """A published collection of ``t`` with ``rights``, one token minted to each of ``owners``."""
    collection_id = "col_" + uuid.uuid4().hex[:20]
    now = utc_now()
    config = server.app.state.log_config
    with _db(server).unit() as unit:
        add_collection(
            unit,
            config,
            Collection(
                tenant_id=t.tenant_id,
                collection_id=collection_id,
                name=name,
                description="",
                issuer_merchant_id=t.merchant_id,
                edition_size=10,
                price=100,
                price_asset=PriceAsset.MONEY,
                per_user_limit=5,
                rights=rights,
                status=CollectionStatus.PUBLISHED,
                created_at=now,
                linked_sku_id=linked_sku_id,
            ),
            now,
        )
        for owner in owners:
            mint(unit, config, t.tenant_id, collection_id, owner, now)
    return collection_id


def _state(server: Any, t: TenantFixture, collection_id: str, serial: int = 1) -> TokenState:
    with _db(server).reading() as unit:
        token = unit.nfg.get_token(t.tenant_id, collection_id, serial)
    assert token is not None
    return token.state


def _set_state(server: Any, t: TenantFixture, collection_id: str, state: TokenState) -> None:
    with _db(server).unit() as unit:
        unit.nfg.move_token(t.tenant_id, collection_id, 1, state=state, now=utc_now())


def _burned(server: Any, t: TenantFixture, collection_id: str) -> int:
    with _db(server).reading() as unit:
        found = unit.nfg.get_collection(t.tenant_id, collection_id)
    assert found is not None
    return found.burned


def _stock(api: Api, t: TenantFixture, sku_id: str | None = None) -> int:
    return int(ok(api.get(t.path(f"/skus/{sku_id or t.sku_id}"), t.admin_token))["stock"])


def _log(api: Api, t: TenantFixture) -> list[dict[str, Any]]:
    leaves = ok(api.get(t.path("/log/entries?start=0&end=1000")))["entries"]
    return [json.loads(base64.b64decode(e["leaf"])) for e in leaves]


def _orders(api: Api, t: TenantFixture) -> list[Any]:
    return list(ok(api.get(t.path("/orders"), t.consumer_token))["items"])


def _address(api: Api, t: TenantFixture, token: str | None = None) -> str:
    found = ok(api.post(t.path("/me/addresses"), token or t.consumer_token, json=HOME), 201)
    return str(found["address_id"])


def _sku(api: Api, t: TenantFixture, price: str, contribution: str | None = None) -> str:
    body: dict[str, Any] = {"name": f"sku {price}", "price": price, "stock": 10}
    if contribution is not None:
        body["pool_contribution"] = contribution
    path = t.path(f"/products/{t.product_id}/skus")
    return str(ok(api.post(path, t.merchant_token, json=body), 201)["sku_id"])


def _redeem(api: Api, t: TenantFixture, collection_id: str, **body: Any) -> Any:
    payload = {"collection_id": collection_id, "serial": 1, **body}
    return api.post(t.path("/nfg/redemptions"), t.consumer_token, json=payload)


def test_may_buy_is_refused_to_non_holders_and_allowed_to_holders(
    api: Api, tenant: TenantFixture, server: Any
) -> None:
    t = tenant
    card = _collection(server, t, Rights(may_buy=(t.sku_id,)), name="黑卡")
    stock, log_size = _stock(api, t), len(_log(api, t))
    body = {"lines": [{"sku_id": t.sku_id, "quantity": 1}]}
    refused = api.post(t.path("/checkout"), t.consumer_token, json=body)
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert error["field"] == "lines.0.sku_id"
    assert "only holders of 黑卡 may buy" in error["message"]
    assert (_stock(api, t), _orders(api, t), len(_log(api, t))) == (stock, [], log_size)
    # From the cart too: the line is named "lines".
    ok(api.post(t.path("/cart/lines"), t.consumer_token, json={"sku_id": t.sku_id, "quantity": 1}))
    from_cart = api.post(t.path("/checkout"), t.consumer_token, json={})
    assert from_cart.status_code == 403
    assert from_cart.json()["error"]["field"] == "lines"
    # A token that is not held (listed, locked, redeeming…) opens nothing.
    with _db(server).unit() as unit:
        mint(unit, server.app.state.log_config, t.tenant_id, card, t.consumer_id, utc_now())
    _set_state(server, t, card, TokenState.LOCKED)
    assert api.post(t.path("/checkout"), t.consumer_token, json=body).status_code == 403
    _set_state(server, t, card, TokenState.HELD)
    done = checkout(api, t, [(t.sku_id, 1)])
    assert done["orders"][0]["total"] == "100.00"
    assert done["orders"][0]["nfg_discount"] is None
    assert _stock(api, t) == stock - 1
    # Another SKU is open to everyone.
    other = _sku(api, t, "10.00")
    assert checkout(api, t, [(other, 1)])["orders"][0]["total"] == "10.00"


def test_a_held_discount_applies_rounded_down_named_on_the_order_only_the_best(
    api: Api, tenant: TenantFixture, server: Any
) -> None:
    t = tenant
    sku = _sku(api, t, "99.99", "30.00")
    small = _collection(server, t, Rights(discount_bps=250), owners=[t.consumer_id])
    best = _collection(server, t, Rights(discount_bps=333), name="九折卡", owners=[t.consumer_id])
    not_held = _collection(server, t, Rights(discount_bps=5000), owners=[t.consumer_id])
    _set_state(server, t, not_held, TokenState.LISTED)
    assert small != best
    before = economy(server, t)
    done = checkout(api, t, [(sku, 1)])
    (placed,) = done["orders"]
    # 99.99 × 3.33 % = 3.329667: 3.32 off (rounded down), one discount, the best one held.
    assert placed["total"] == "96.67"
    assert placed["money_amount"] == "96.67"
    assert placed["nfg_discount"] == {
        "collection_id": best,
        "serial": 1,
        "token": f"{best}/1",
        "rate_bps": 333,
        "amount": "3.32",
        "goods_total": "99.99",
    }
    assert placed["lines"][0]["line_total"] == "99.99"
    (payment,) = done["payments"]
    assert payment["amount"] == "96.67"
    sandbox_pay(api, payment["redirect_url"])
    shown = order(api, t, placed["order_id"], t.consumer_token)
    assert shown["nfg_discount"]["amount"] == "3.32"
    finished = complete(api, t, placed["order_id"])
    # The pool's contribution follows the money paid: 30.00 × 96.67 / 99.99 = 29.0029 → 29.00.
    assert finished["rewards"]["contribution"] == "29.00"
    after = economy(server, t)
    assert after["money_in"] - before["money_in"] == 9667
    assert after["pool"] - before["pool"] == 2900
    audit_clean(server, t)


def test_the_voucher_redeems_once_then_the_token_is_redeemed(
    api: Api, tenant: TenantFixture, server: Any
) -> None:
    t = tenant
    bottle = _collection(
        server, t, Rights(voucher_sku_id=t.sku_id), name="年份酒", owners=[t.consumer_id]
    )
    address = _address(api, t)
    stock = _stock(api, t)
    asked = ok(_redeem(api, t, bottle, address_id=address), 201)
    assert asked["status"] == "requested"
    assert asked["kind"] == "voucher"
    assert asked["paid_by"] == "token"
    assert asked["sku_id"] == t.sku_id
    assert asked["recipient"] == "张三"
    assert _state(server, t, bottle) == TokenState.REDEEMING
    assert _stock(api, t) == stock - 1
    again = _redeem(api, t, bottle, address_id=address)
    assert again.status_code == 409
    assert again.json()["error"]["field"] == "token"
    rid = asked["redemption_id"]
    path = t.path(f"/nfg/redemptions/{rid}")
    assert ok(api.get(path, t.merchant_token))["redemption_id"] == rid
    assert [
        r["redemption_id"]
        for r in ok(api.get(t.path("/nfg/redemptions"), t.merchant_token))["redemptions"]
    ] == [rid]
    shipped = ok(api.post(f"{path}/ship", t.merchant_token, json={"carrier": "顺丰"}))
    assert shipped["status"] == "shipped"
    assert api.post(f"{path}/cancel", t.consumer_token, json={}).status_code == 409
    delivered = ok(api.post(f"{path}/deliver", t.merchant_token))
    assert delivered["status"] == "delivered"
    assert _state(server, t, bottle) == TokenState.REDEEMED
    assert _burned(server, t, bottle) == 1
    assert _stock(api, t) == stock - 1
    uses = ok(api.get(t.path(f"/nfg/tokens/{bottle}/1/uses"), t.consumer_token))["uses"]
    assert [u["right"] for u in uses] == ["voucher"]
    kinds = [leaf["type"] for leaf in _log(api, t) if leaf.get("token") == f"{bottle}/1"]
    assert kinds == ["mint", "redemption_requested", "redemption_delivered"]
    # Once: a redeemed token redeems nothing more, and delivery does not repeat.
    assert _redeem(api, t, bottle, address_id=address).status_code == 409
    assert api.post(f"{path}/deliver", t.merchant_token).status_code == 409


def test_redemption_of_a_linked_sku_cancelled_unlocks_the_token(
    api: Api, tenant: TenantFixture, server: Any
) -> None:
    t = tenant
    bottle = _collection(server, t, Rights(), linked_sku_id=t.sku_id, owners=[t.consumer_id])
    address = _address(api, t)
    stock = _stock(api, t)
    asked = ok(_redeem(api, t, bottle, address_id=address), 201)
    assert asked["kind"] == "linked"
    assert _state(server, t, bottle) == TokenState.REDEEMING
    path = t.path(f"/nfg/redemptions/{asked['redemption_id']}")
    # The merchant cannot be another user's consumer: a consumer sees only their own.
    cancelled = ok(api.post(f"{path}/cancel", t.consumer_token, json={"reason": "changed"}))
    assert cancelled["status"] == "cancelled"
    assert _state(server, t, bottle) == TokenState.HELD
    assert _stock(api, t) == stock
    assert _burned(server, t, bottle) == 0
    assert api.post(f"{path}/deliver", t.merchant_token).status_code == 409
    kinds = [leaf["type"] for leaf in _log(api, t) if leaf.get("token") == f"{bottle}/1"]
    assert kinds == ["mint", "redemption_requested", "redemption_cancelled"]
    # Held again: it can be redeemed again, and delivered (burned) this time.
    second = ok(_redeem(api, t, bottle, address_id=address), 201)
    ok(api.post(t.path(f"/nfg/redemptions/{second['redemption_id']}/deliver"), t.admin_token))
    assert _state(server, t, bottle) == TokenState.REDEEMED
    assert _burned(server, t, bottle) == 1


def test_bad_redemptions_name_the_field_and_change_nothing(
    api: Api, tenant: TenantFixture, server: Any
) -> None:
    t = tenant
    ok(
        api.post(t.path("/register"), json={"email": "b2@shop.test", "password": "pass-word-1"}),
        201,
    )
    other = login(api, t.tenant_id, "b2@shop.test", "pass-word-1")
    other_id = ok(api.get(t.path("/me"), other))["user_id"]
    mine = _collection(server, t, Rights(), linked_sku_id=t.sku_id, owners=[t.consumer_id])
    theirs = _collection(server, t, Rights(), linked_sku_id=t.sku_id, owners=[other_id])
    nothing = _collection(server, t, Rights(discount_bps=100), owners=[t.consumer_id])
    address = _address(api, t)
    their_address = _address(api, t, other)
    stock, size = _stock(api, t), len(_log(api, t))

    def refused(answer: Any, status: int, field: str) -> None:
        assert answer.status_code == status, answer.text
        assert answer.json()["error"]["field"] == field, answer.text

    refused(_redeem(api, t, mine), 422, "address_id")
    refused(_redeem(api, t, mine, address_id=" "), 422, "address_id")
    refused(_redeem(api, t, mine, address_id=their_address), 404, "address_id")
    refused(_redeem(api, t, theirs, address_id=address), 403, "serial")
    refused(_redeem(api, t, mine, address_id=address, serial=11), 422, "serial")
    refused(_redeem(api, t, mine, address_id=address, serial=2), 404, "serial")
    refused(_redeem(api, t, "col_nope", address_id=address), 404, "collection_id")
    refused(_redeem(api, t, nothing, address_id=address), 409, "collection_id")
    _set_state(server, t, mine, TokenState.LISTED)
    refused(_redeem(api, t, mine, address_id=address), 409, "token")
    assert "token_locked" in _redeem(api, t, mine, address_id=address).json()["error"]["message"]
    _set_state(server, t, mine, TokenState.HELD)
    # Merchants do not redeem for the owner.
    body = {"collection_id": mine, "serial": 1, "address_id": address}
    assert api.post(t.path("/nfg/redemptions"), t.merchant_token, json=body).status_code == 403
    assert _stock(api, t) == stock
    assert len(_log(api, t)) == size
    assert _state(server, t, mine) == TokenState.HELD
    assert ok(api.get(t.path("/nfg/redemptions"), t.consumer_token))["redemptions"] == []
    # Another consumer neither sees nor cancels a redemption that is not theirs.
    rid = ok(_redeem(api, t, mine, address_id=address), 201)["redemption_id"]
    assert api.get(t.path(f"/nfg/redemptions/{rid}"), other).status_code == 404
    assert api.post(t.path(f"/nfg/redemptions/{rid}/cancel"), other, json={}).status_code == 404
    assert _state(server, t, mine) == TokenState.REDEEMING


def test_entry_is_checked_by_scanning_the_certificate_and_each_use_logged(
    api: Api, tenant: TenantFixture, server: Any
) -> None:
    t = tenant
    card = _collection(server, t, Rights(entry="品鉴室"), owners=[t.consumer_id])
    plain = _collection(server, t, Rights(discount_bps=100), owners=[t.consumer_id])
    url = f"https://mall.example/{t.tenant_id}/c/{card}/1"
    scan = t.path("/nfg/entry/scan")
    first = ok(api.post(scan, t.merchant_token, json={"certificate": url}))
    assert first["ok"] is True
    assert (first["token"], first["entry"], first["uses_count"]) == (f"{card}/1", "品鉴室", 1)
    second = ok(api.post(scan, t.admin_token, json={"certificate": f"/{t.tenant_id}/c/{card}/1"}))
    assert second["uses_count"] == 2
    uses = ok(api.get(t.path(f"/nfg/tokens/{card}/1/uses"), t.consumer_token))["uses"]
    assert [u["right"] for u in uses] == ["entry", "entry"]
    assert uses[0]["used_by"] == t.merchant_user_id
    logged = [leaf for leaf in _log(api, t) if leaf["type"] == "right_used"]
    assert [(leaf["token"], leaf["right"]) for leaf in logged] == [(f"{card}/1", "entry")] * 2
    size = len(_log(api, t))

    def refused(body: dict[str, Any], status: int, token: str | None = None) -> None:
        answer = api.post(scan, token or t.merchant_token, json=body)
        assert answer.status_code == status, answer.text
        expected = (None,) if token is not None else ("certificate", "token")
        assert answer.json()["error"]["field"] in expected, answer.text

    refused({"certificate": f"/{t.tenant_id}/c/{plain}/1"}, 409)  # no entry right
    refused({"certificate": f"/other/c/{card}/1"}, 422)  # another tenant's certificate
    refused({"certificate": "not a certificate"}, 422)
    refused({"certificate": f"{card}/2"}, 404)  # never minted
    refused({"certificate": url}, 403, t.consumer_token)  # a role refusal names no field
    _set_state(server, t, card, TokenState.LOCKED)
    refused({"certificate": url}, 409)  # not held
    assert len(_log(api, t)) == size
    uses = ok(api.get(t.path(f"/nfg/tokens/{card}/1/uses"), t.consumer_token))["uses"]
    assert len(uses) == 2


def test_discount_and_checkout_leave_other_tenants_alone(
    api: Api, tenant: TenantFixture, other_tenant: TenantFixture, server: Any
) -> None:
    t, o = tenant, other_tenant
    _collection(server, t, Rights(may_buy=(t.sku_id,), discount_bps=1000), owners=[t.consumer_id])
    # The other tenant's SKU and buyer see none of it.
    done = checkout(api, o, [(o.sku_id, 1)])
    assert done["orders"][0]["total"] == "100.00"
    assert done["orders"][0]["nfg_discount"] is None
    held = checkout(api, t, [(t.sku_id, 1)])
    assert held["orders"][0]["total"] == "90.00"
    assert timedelta(0) == timedelta(0)


def test_a_redemption_closes_the_tokens_agreement_in_the_same_transaction(
    api: Api, tenant: TenantFixture, server: Any
) -> None:
    t = tenant
    bottle = _collection(
        server, t, Rights(voucher_sku_id=t.sku_id), name="年份酒", owners=[t.consumer_id]
    )
    body = {"collection_id": bottle, "serial": 1, "to_user_id": t.merchant_user_id, "price": "9.00"}
    offered = ok(api.post(t.path("/market/orders/offer"), t.consumer_token, json=body))
    ok(_redeem(api, t, bottle, address_id=_address(api, t)), 201)
    mine = ok(api.get(t.path("/market/orders/mine"), t.consumer_token))["orders"]
    assert [(o["order_id"], o["status"], o["reason"]) for o in mine] == [
        (offered["order_id"], "cancelled", "redeemed")
    ]
