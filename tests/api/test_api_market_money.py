"""The market's money over real HTTP on SQLite and PostgreSQL: a take (摘牌), a resting bid
(求购) filled by a listing, a bid trading at once, an agreement (协议转让) accepted by its named
buyer, each one journal with the seller getting price − fee − royalty; refusals that change
nothing; a cancelled bid returning its cash once; a gift cancelling an agreement; the operator's
trades, flags and CSV; deposits through the sandbox gateway's callback. The audit stays clean
and every fen deposited is accounted for."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from mall_api import Api, TenantFixture, login, ok
from market_money_kit import audit_clean, conserved, db_of, fund, money, refused, rows, user
from orders_helpers import signed_webhook, success_event
from test_api_market import _collection
from wallet_helpers import invite_code, verify_kyc

from tokenmall.adapters.db.market.trades import DepositRow
from tokenmall.services.mall.uow import utc_now
from tokenmall.services.market import trading

FEES = {"fee_rate": "0.02", "royalty_rate": "0.05"}


def _market(api: Api, server: Any, t: TenantFixture, *owners: str) -> str:
    cid = _collection(server, t, *owners)
    ok(api.post(t.path(f"/market/collections/{cid}/settings"), t.admin_token, json=FEES))
    return cid


def _list(api: Api, t: TenantFixture, token: str, cid: str, serial: int, price: str) -> Any:
    body = {"collection_id": cid, "serial": serial, "price": price}
    return api.post(t.path("/market/orders/list"), token, json=body)


def _bid(
    api: Api, t: TenantFixture, token: str, cid: str, price: str,
    json_extra: dict[str, Any] | None = None, **kw: Any,
) -> Any:  # fmt: skip
    body = {"collection_id": cid, "price": price, **(json_extra or {})}
    return api.post(t.path("/market/orders/bid"), token, json=body, **kw)


def test_take_bid_and_accept_settle_exactly(api: Api, server: Any, tenant: TenantFixture) -> None:
    t = tenant
    seller = t.consumer_id
    cid = _market(api, server, t, seller, seller, seller)
    buyer, buyer_token = user(api, t)
    fund(server, t, buyer, 100_000)
    # 摘牌: 120.00, fee 2.40, royalty 6.00, the seller gets 111.60
    listed = ok(_list(api, t, t.consumer_token, cid, 1, "120.00"))
    take = t.path(f"/market/orders/{listed['order_id']}/take")
    trade = ok(api.post(take, buyer_token, key="take-1"))
    assert (trade["price"], trade["fee"], trade["royalty"], trade["proceeds"]) == (
        "120.00", "2.40", "6.00", "111.60",
    )  # fmt: skip
    assert (trade["kind"], trade["seller_id"], trade["buyer_id"]) == ("take", seller, buyer)
    assert ok(api.post(take, buyer_token, key="take-1")) == trade  # a replay: nothing more
    assert money(server, t, buyer, seller) == {
        buyer: 88_000, seller: 11_160, "market_deposits": 100_000, "market_escrow": 0,
        "market_fees": 240, "royalties": 600,
    }  # fmt: skip
    # 求购 rests and reserves; a listing at or below it trades at the bid's price, from escrow
    placed = ok(_bid(api, t, buyer_token, cid, "100.00"))
    assert (placed["order"]["status"], placed["trades"]) == ("open", [])
    assert money(server, t, buyer)[buyer] == 78_000
    assert money(server, t)["market_escrow"] == 10_000
    sold = ok(_list(api, t, t.consumer_token, cid, 2, "95.00"))
    assert sold["status"] == "filled"
    after = money(server, t, buyer, seller)
    assert (after[buyer], after[seller], after["market_escrow"]) == (78_000, 11_160 + 9_300, 0)
    assert (after["market_fees"], after["royalties"]) == (440, 1_100)
    # 协议转让: only the named buyer accepts
    offer = ok(
        api.post(
            t.path("/market/orders/offer"), t.consumer_token,
            json={"collection_id": cid, "serial": 3, "to_user_id": buyer, "price": "50.00"},
        )
    )  # fmt: skip
    accept = t.path(f"/market/orders/{offer['order_id']}/accept")
    before = (money(server, t, buyer, seller), rows(server, t))
    refused(api.post(accept, t.merchant_token), 404, "not_found")
    assert (money(server, t, buyer, seller), rows(server, t)) == before
    accepted = ok(api.post(accept, buyer_token))
    assert (accepted["kind"], accepted["proceeds"]) == ("accept", "46.50")
    # a bid at or above the lowest listing trades at once at the listing's price
    ok(_list(api, t, buyer_token, cid, 1, "130.00"))
    fund(server, t, seller, 20_000)
    now = ok(_bid(api, t, t.consumer_token, cid, "140.00"))
    assert [x["price"] for x in now["trades"]] == ["130.00"]
    assert now["order"]["status"] == "filled"
    tokens, _, trades = rows(server, t)
    assert [(s, o) for _, s, o, _ in tokens] == [(1, seller), (2, buyer), (3, buyer)]
    assert [p for _, p in trades] == [12_000, 10_000, 5_000, 13_000]
    mine = ok(api.get(t.path("/market/trades/mine"), buyer_token))["trades"]
    assert len(mine) == 4
    data = ok(api.get(t.path(f"/market/collections/{cid}"), buyer_token))
    assert (data["last_price"], data["volume_24h"]) == ("130.00", "400.00")
    audit_clean(server, t)
    conserved(server, t, buyer, seller)


def test_refusals_change_nothing(api: Api, server: Any, tenant: TenantFixture) -> None:
    t = tenant
    cid = _market(api, server, t, t.consumer_id)
    buyer, buyer_token = user(api, t)
    fund(server, t, buyer, 5_000)
    listed = ok(_list(api, t, t.consumer_token, cid, 1, "120.00"))
    before = (money(server, t, buyer, t.consumer_id), rows(server, t))
    refused(_bid(api, t, buyer_token, "col_missing", "10.00"), 404, "not_found")
    assert refused(_bid(api, t, buyer_token, cid, "1.234"), 422, "invalid_input")["field"] == (
        "price"
    )
    refused(_bid(api, t, buyer_token, cid, "0"), 422, "invalid_input")
    refused(_bid(api, t, buyer_token, cid, "-1.00"), 422, "invalid_input")
    refused(_bid(api, t, buyer_token, cid, "50.01"), 409, "insufficient_funds")
    take = t.path(f"/market/orders/{listed['order_id']}/take")
    refused(api.post(take, buyer_token), 409, "insufficient_funds")
    refused(api.post(take, t.consumer_token), 409, "self_trade")
    refused(api.post(t.path("/market/orders/999999/take"), buyer_token), 404, "not_found")
    other = _other_tenant(api, server)
    refused(api.post(take.replace(t.tenant_id, other.tenant_id), other.consumer_token), 404,
            "not_found")  # fmt: skip
    assert (money(server, t, buyer, t.consumer_id), rows(server, t)) == before
    audit_clean(server, t)


def _other_tenant(api: Api, server: Any) -> TenantFixture:
    from mall_api import OPERATOR_EMAIL, OPERATOR_PASSWORD, make_tenant

    operator = ok(
        api.post(
            "/api/v1/platform/login", json={"email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD}
        )
    )["token"]
    return make_tenant(api, operator)


def test_a_cancelled_bid_returns_its_cash_once(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    cid = _market(api, server, t, t.consumer_id)
    buyer, buyer_token = user(api, t)
    fund(server, t, buyer, 10_000)
    placed = ok(_bid(api, t, buyer_token, cid, "80.00"))
    assert money(server, t, buyer)[buyer] == 2_000
    cancel = t.path(f"/market/orders/{placed['order']['order_id']}/cancel")
    refused(api.post(cancel, t.consumer_token), 403, "not_owner")
    assert ok(api.post(cancel, buyer_token, key="c-1"))["status"] == "cancelled"
    ok(api.post(cancel, buyer_token, key="c-1"))
    refused(api.post(cancel, buyer_token), 404, "not_found")
    m = money(server, t, buyer)
    assert (m[buyer], m["market_escrow"]) == (10_000, 0)
    # the token's listing no longer meets the cancelled bid
    assert ok(_list(api, t, t.consumer_token, cid, 1, "80.00"))["status"] == "open"
    audit_clean(server, t)
    conserved(server, t, buyer, t.consumer_id)


def test_a_gift_cancels_the_agreement_and_moves_no_money(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    cid = _market(api, server, t, t.consumer_id)
    buyer, buyer_token = user(api, t)
    fund(server, t, buyer, 10_000)
    offer = ok(
        api.post(
            t.path("/market/orders/offer"), t.consumer_token,
            json={"collection_id": cid, "serial": 1, "to_user_id": buyer, "price": "50.00"},
        )
    )  # fmt: skip
    gift = {"collection_id": cid, "serial": 1, "to_user_id": t.merchant_user_id}
    ok(api.post(t.path("/market/gifts"), t.consumer_token, json=gift))
    before = money(server, t, buyer, t.consumer_id)
    refused(api.post(t.path(f"/market/orders/{offer['order_id']}/accept"), buyer_token), 404,
            "not_found")  # fmt: skip
    assert money(server, t, buyer, t.consumer_id) == before == {
        buyer: 10_000, t.consumer_id: 0, "market_deposits": 10_000, "market_escrow": 0,
        "market_fees": 0, "royalties": 0,
    }  # fmt: skip
    tokens, orders, trades = rows(server, t)
    assert (tokens[0][2], orders, trades) == (
        t.merchant_user_id, [(offer["order_id"], "cancelled")], [],
    )  # fmt: skip
    audit_clean(server, t)


def test_operator_trades_flags_and_csv(api: Api, server: Any, tenant: TenantFixture) -> None:
    t = tenant
    cid = _market(api, server, t, t.consumer_id, t.consumer_id)
    buyer, buyer_token = user(api, t)
    fund(server, t, buyer, 50_000)
    for serial in (1, 2):
        listed = ok(_list(api, t, t.consumer_token, cid, serial, "100.00"))
        ok(api.post(t.path(f"/market/orders/{listed['order_id']}/take"), buyer_token))
    report = ok(api.get(t.path("/market/admin/trades"), t.admin_token))
    assert (report["count"], report["volume"], report["flagged_count"]) == (2, "200.00", 0)
    flagged = ok(api.get(t.path("/market/admin/trades/flagged"), t.admin_token))
    assert flagged["trades"] == []
    refused(api.get(t.path("/market/admin/trades"), buyer_token), 403, "forbidden")
    refused(api.get(t.path("/market/admin/trades.csv"), buyer_token), 403, "forbidden")
    csv = api.get(t.path("/market/admin/trades.csv"), t.admin_token)
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().split("\n")
    assert lines[0].startswith("trade_id,created_at,business_day,kind,")
    assert len(lines) == 3
    assert ",100.00,2.00,5.00,93.00," in lines[1]


def test_a_deposit_through_the_gateway_credits_cash_once(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    buyer, buyer_token = user(api, t)
    refused(api.post(t.path("/market/deposits"), buyer_token, json={"amount": "0.001"}), 422,
            "invalid_input")  # fmt: skip
    dep = ok(api.post(t.path("/market/deposits"), buyer_token, json={"amount": "250.00"}))
    assert (dep["status"], dep["amount"]) == ("pending", "250.00")
    assert dep["redirect_url"]
    event = success_event(dep)
    answer = ok(signed_webhook(api, server, event))
    assert (answer["deposit_status"], answer["outcome"]) == ("paid", "market cash deposited")
    assert signed_webhook(api, server, event).status_code == 409  # the same event: refused
    again = success_event(dep)  # another event for a paid deposit: nothing more
    assert ok(signed_webhook(api, server, again))["outcome"] == "no change"
    wrong = ok(api.post(t.path("/market/deposits"), buyer_token, json={"amount": "10.00"}))
    assert signed_webhook(api, server, {**success_event(wrong), "amount": "11.00"}).status_code in (
        409, 422,
    )  # fmt: skip
    m = money(server, t, buyer)
    assert (m[buyer], m["market_deposits"]) == (25_000, 25_000)
    mine = ok(api.get(t.path("/market/deposits/mine"), buyer_token))["deposits"]
    assert sorted(d["status"] for d in mine) == ["paid", "pending"]
    audit_clean(server, t)


def test_trades_between_referral_links_are_flagged(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    cid = _market(api, server, t, t.consumer_id)
    code = invite_code(api, t, t.consumer_token)
    email = f"{uuid.uuid4().hex[:10]}@shop.test"
    body = {"email": email, "password": "pass-word-1", "invite_code": code}
    friend = ok(api.post(t.path("/register"), json=body), 201)["user_id"]
    friend_token = login(api, t.tenant_id, email, "pass-word-1")
    fund(server, t, friend, 20_000)
    listed = ok(_list(api, t, t.consumer_token, cid, 1, "100.00"))
    trade = ok(api.post(t.path(f"/market/orders/{listed['order_id']}/take"), friend_token))
    assert (trade["flagged"], trade["flag_reason"]) == (True, "referral_link")
    flagged = ok(api.get(t.path("/market/admin/trades/flagged"), t.admin_token))
    assert (flagged["flagged_count"], flagged["flagged_volume"]) == (1, "100.00")
    assert [x["trade_id"] for x in flagged["trades"]] == [trade["trade_id"]]
    audit_clean(server, t)


def test_expiry_returns_a_bids_cash_once(api: Api, server: Any, tenant: TenantFixture) -> None:
    t = tenant
    cid = _market(api, server, t, t.consumer_id)
    buyer, buyer_token = user(api, t)
    fund(server, t, buyer, 10_000)
    placed = ok(_bid(api, t, buyer_token, cid, "60.00", json_extra={"valid_days": 1}))
    assert money(server, t, buyer)[buyer] == 4_000
    tick = t.path("/market/orders/expire-due")
    refused(api.post(tick, buyer_token), 403, "forbidden")
    assert ok(api.post(tick, t.admin_token)) == {"expired": 0}  # not due yet
    later = utc_now() + timedelta(days=3)
    config = server.app.state.log_config
    for _ in range(2):  # the second tick finds nothing left to expire
        with db_of(server).unit() as unit:
            trading.expire_due(unit, t.tenant_id, now=later, config=config)
    order = ok(api.get(t.path("/market/orders/mine"), buyer_token))["orders"][0]
    assert (order["order_id"], order["status"]) == (placed["order"]["order_id"], "expired")
    m = money(server, t, buyer)
    assert (m[buyer], m["market_escrow"]) == (10_000, 0)
    audit_clean(server, t)


def test_a_profile_change_returns_open_bids_cash(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    cid = _market(api, server, t, t.consumer_id)
    buyer, buyer_token = user(api, t)
    fund(server, t, buyer, 10_000)
    placed = ok(_bid(api, t, buyer_token, cid, "70.00"))
    ok(api.post(t.path("/market/settings"), t.admin_token, json={"profile": "cn-gift-only"}))
    order = ok(api.get(t.path("/market/orders/mine"), buyer_token))["orders"][0]
    assert (order["order_id"], order["status"]) == (placed["order"]["order_id"], "cancelled")
    m = money(server, t, buyer)
    assert (m[buyer], m["market_escrow"]) == (10_000, 0)
    refused(_bid(api, t, buyer_token, cid, "70.00"), 403, "profile_forbids")
    audit_clean(server, t)


def test_the_sandbox_page_pays_a_deposit(api: Api, server: Any, tenant: TenantFixture) -> None:
    t = tenant
    buyer, buyer_token = user(api, t)
    dep = ok(api.post(t.path("/market/deposits"), buyer_token, json={"amount": "12.34"}))
    page = dep["redirect_url"].split("://", 1)[1].split("/", 1)[1]
    shown = api.http.get(f"/{page}")
    assert shown.status_code == 200
    assert dep["deposit_id"] in shown.text
    paid = api.http.post(f"/{page}", data={"outcome": "approve"})
    assert paid.status_code == 200
    assert "succeeded" in paid.text
    assert api.http.post(f"/{page}", data={"outcome": "approve"}).status_code == 409
    assert money(server, t, buyer)[buyer] == 1_234
    audit_clean(server, t)


def test_trades_between_users_paying_from_one_account_are_flagged(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    cid = _market(api, server, t, t.consumer_id)
    buyer, buyer_token = user(api, t)
    fund(server, t, buyer, 20_000)
    now = utc_now()
    with db_of(server).unit() as unit:  # as a gateway reporting its payer would record them
        for n, who in enumerate((buyer, t.consumer_id)):
            unit.market.add_deposit(
                DepositRow(t.tenant_id, f"dep_same{n}", who, 100, "paid", "acct-1", None, now, now)
            )
    listed = ok(_list(api, t, t.consumer_token, cid, 1, "100.00"))
    trade = ok(api.post(t.path(f"/market/orders/{listed['order_id']}/take"), buyer_token))
    assert (trade["flagged"], trade["flag_reason"]) == (True, "shared_payment_account")


def test_trade_proceeds_are_the_same_withdrawable_cash(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    cid = _market(api, server, t, t.consumer_id)
    buyer, buyer_token = user(api, t)
    fund(server, t, buyer, 20_000)
    listed = ok(_list(api, t, t.consumer_token, cid, 1, "100.00"))
    ok(api.post(t.path(f"/market/orders/{listed['order_id']}/take"), buyer_token))
    verify_kyc(api, t, t.consumer_id)
    body = {"amount": "93.00"}  # the seller's proceeds, all of them
    made = ok(api.post(t.path("/withdrawals"), t.consumer_token, json=body), 201)
    assert made["status"] == "pending"
    refused(api.post(t.path("/withdrawals"), t.consumer_token, json={"amount": "1.00"}), 409,
            "insufficient_balance")  # fmt: skip
    assert money(server, t, t.consumer_id)[t.consumer_id] == 0
    audit_clean(server, t)
