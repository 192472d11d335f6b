"""Refunds after booking take back what the order gave (economy.md rule 9): the buyer's and the
referrers' granted points are burned, the quota the order added is removed, what was already
sold or paid out against it becomes a debt, and the admin sees it all before approving."""

from __future__ import annotations

from typing import Any

from mall_api import Api, TenantFixture, make_tenant, ok
from orders_helpers import audit_clean, checkout, economy, holder, paid_order, sandbox_pay
from wallet_helpers import invite_code, register, verify_kyc

from tokenmall.domain.money import parse_money, parse_points


def _refund(api: Api, t: TenantFixture, order_id: str) -> dict[str, Any]:
    asked = ok(
        api.post(t.path(f"/orders/{order_id}/refunds"), t.consumer_token, json={"reason": "r"}),
        201,
    )
    path = t.path(f"/orders/{order_id}/refunds/{asked['refund_id']}/approve")
    return dict(ok(api.post(path, t.admin_token, json={"note": "ok"})))


def _others_buy(api: Api, t: TenantFixture, orders: int = 4) -> None:
    """Another consumer's paid orders: revenue for the refunds to come out of."""
    path = t.path(f"/skus/{t.sku_id}/stock-movements")
    ok(api.post(path, t.merchant_token, json={"change": 100, "reason": "restock"}), 201)
    _, token = register(api, t, "other-buyer@shop.test")
    for _ in range(orders):
        done = checkout(api, t, [(t.sku_id, 2)], token=token)
        assert sandbox_pay(api, done["payments"][0]["redirect_url"]).status_code == 200


def test_five_purchases_four_refunds_leave_one_orders_rewards(
    api: Api, operator_token: str, server: object
) -> None:
    t = make_tenant(api, operator_token, params={"grant_on": "paid"})
    _others_buy(api, t)
    orders = [paid_order(api, t) for _ in range(5)]
    kept = orders[4]
    kept_points = parse_points(kept["rewards"]["points"])
    before = economy(server, t)
    for placed in orders[:4]:
        decided = _refund(api, t, placed["order_id"])
        assert decided["order"]["status"] == "refunded"
    buyer = holder(server, t, t.consumer_id)
    # The net spend is one order of 100.00: the buyer keeps that order's rewards only.
    assert buyer["points"] == kept_points
    assert buyer["quota"] == 2 * 10_000
    assert buyer["spend"] == 10_000
    after = economy(server, t)
    assert after["pool"] == before["pool"]  # the pool keeps every contribution
    # The price never falls: pool/circulating after >= before.
    assert after["pool"] * before["circulating"] >= before["pool"] * after["circulating"]
    audit_clean(server, t)


def test_points_sold_before_the_refund_become_a_debt_shown_in_the_preview(
    api: Api, operator_token: str, server: object
) -> None:
    t = make_tenant(api, operator_token, params={"grant_on": "paid"})
    _others_buy(api, t)
    bought = paid_order(api, t)
    granted = parse_points(bought["rewards"]["points"])
    sold = ok(api.post(t.path("/wallet/sell"), t.consumer_token, json={"points": "5"}))
    assert sold["points"] == "5.00000000"
    asked = ok(
        api.post(
            t.path(f"/orders/{bought['order_id']}/refunds"), t.consumer_token, json={"reason": "r"}
        ),
        201,
    )
    preview_path = t.path(f"/orders/{bought['order_id']}/refunds/{asked['refund_id']}/preview")
    # The buyer cannot see the admin's preview; a merchant may not approve a booked refund.
    assert api.get(preview_path, t.consumer_token).status_code == 403
    before = economy(server, t)
    preview = ok(api.get(preview_path, t.admin_token))
    assert economy(server, t) == before  # a preview changes nothing
    assert preview["money"] == "100.00"
    assert preview["rewards_booked"] is True
    assert preview["admin_only"] is True
    rewards = preview["rewards"]
    (buyer,) = rewards["holders"]
    assert buyer["holder"] == t.consumer_id
    assert parse_points(buyer["points_granted"]) == granted
    assert parse_points(buyer["points_gone"]) == 5 * 10**8
    assert parse_points(buyer["points_burned"]) == granted - 5 * 10**8
    assert buyer["quota_removed"] == "200.00"
    assert buyer["spend_removed"] == "100.00"
    # 5 points left at the price of the sale (rounded up to the fen): their value is the debt.
    num, den = (int(x) for x in sold["price_fraction"].split("/"))
    owed = -(-5 * 10**8 * num // den)
    assert parse_money(buyer["debt_for_points_gone"], allow_zero=True) == owed
    assert buyer["debt"] == rewards["debt"]
    assert rewards["price"] >= rewards["price_before"]

    decided = ok(
        api.post(
            t.path(f"/orders/{bought['order_id']}/refunds/{asked['refund_id']}/approve"),
            t.admin_token,
        )
    )
    assert decided["order"]["status"] == "refunded"
    wallet = ok(api.get(t.path("/wallet"), t.consumer_token))
    assert wallet["points"] == "0.00000000"
    assert wallet["debt"] == rewards["debt"]
    assert wallet["quota_total"] == "0.00"
    assert wallet["spend"] == "0.00"
    # A second preview of a decided refund is refused; nothing moves.
    assert api.get(preview_path, t.admin_token).status_code == 409
    audit_clean(server, t)


def test_referrers_points_are_burned_and_a_debt_blocks_withdrawals(
    api: Api, operator_token: str, server: object
) -> None:
    t = make_tenant(api, operator_token, params={"grant_on": "paid"})
    _others_buy(api, t)
    # Referral rewards go only to verified inviters where withdrawals need KYC (the default).
    verify_kyc(api, t, t.consumer_id)
    friend_id, friend = register(api, t, "friend@shop.test", invite_code(api, t, t.consumer_token))
    done = checkout(api, t, [(t.sku_id, 1)], token=friend)
    assert sandbox_pay(api, done["payments"][0]["redirect_url"]).status_code == 200
    order_id = done["orders"][0]["order_id"]
    inviter_points = holder(server, t, t.consumer_id)["points"]
    assert inviter_points > 0  # the referral grant
    # The friend sells some of the order's points: that part becomes the friend's debt.
    ok(api.post(t.path("/wallet/sell"), friend, json={"points": "3"}))
    asked = ok(api.post(t.path(f"/orders/{order_id}/refunds"), friend, json={"reason": "r"}), 201)
    preview = ok(
        api.get(t.path(f"/orders/{order_id}/refunds/{asked['refund_id']}/preview"), t.admin_token)
    )
    levels = {h["holder"]: h for h in preview["rewards"]["holders"]}
    assert set(levels) == {friend_id, t.consumer_id}
    assert levels[t.consumer_id]["level"] == 1
    assert parse_points(levels[t.consumer_id]["points_burned"]) == inviter_points
    assert levels[t.consumer_id]["debt"] == "0.00"
    owed = parse_money(levels[friend_id]["debt"], allow_zero=True)
    assert owed > 0
    ok(api.post(t.path(f"/orders/{order_id}/refunds/{asked['refund_id']}/approve"), t.admin_token))
    assert holder(server, t, t.consumer_id)["points"] == 0
    wallet = ok(api.get(t.path("/wallet"), friend))
    assert parse_money(wallet["debt"], allow_zero=True) == owed
    cash = parse_money(wallet["cash"], allow_zero=True)
    # The sale paid the points' value less the fee; the debt is their whole value.
    assert 0 < cash < owed
    # Debts come out of cash before anything leaves: no withdrawal while one is owed.
    verify_kyc(api, t, friend_id)
    answer = api.post(t.path("/withdrawals"), friend, json={"amount": "0.01"})
    assert answer.status_code in (409, 422), answer.text
    assert ok(api.get(t.path("/wallet"), friend)) == wallet  # refused: nothing changed
    audit_clean(server, t)
