"""A store's paid royalties (版税收入) leave through the withdrawals' request and approvals,
over real HTTP on SQLite and PostgreSQL: the payout lands in the store's cash, its owner asks
for a withdrawal of it (``merchant_id``), another admin approves, and the store's cash, the
ledger's aggregates and the audit agree. Asking for more than the store holds, for another's
store, or without the Idempotency-Key is refused and changes nothing; the owner's own cash is
never touched by the store's withdrawal."""

from __future__ import annotations

from typing import Any

from mall_api import Api, TenantFixture, ok
from market_money_kit import audit_clean, fund, money, refused, store_of, user
from test_api_market_money import _market
from test_api_market_royalties import PAYOUT, _trade
from wallet_helpers import snapshot, verify_kyc

from tokenmall.adapters.db.market.tables import market_royalty_payouts

WITHDRAW = "/withdrawals"


def _paid_royalties(api: Api, server: Any, t: TenantFixture) -> None:
    """A trade of the merchant's collection at 120.00 (royalty 6.00), paid out to the store."""
    seller = t.consumer_id
    cid = _market(api, server, t, seller, seller)
    _, buyer_token = buyer = user(api, t)
    fund(server, t, buyer[0], 100_000)
    _trade(api, t, cid, 1, "120.00", buyer_token)
    ok(api.post(t.path(PAYOUT), t.admin_token, json={}, key="pay"))
    verify_kyc(api, t, t.merchant_user_id)


def test_the_owner_withdraws_the_stores_royalties_after_an_admins_approval(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    _paid_royalties(api, server, t)
    store, owner = t.merchant_id, t.merchant_user_id
    assert money(server, t, store, owner)[store] == 600
    own_before = money(server, t, owner)[owner]
    body = {"amount": "4.00", "merchant_id": store}
    asked = ok(api.post(t.path(WITHDRAW), t.merchant_token, json=body, key="w-1"), 201)
    assert (asked["merchant_id"], asked["user_id"], asked["status"]) == (store, owner, "pending")
    assert money(server, t, store)[store] == 200  # held at once
    replay = api.post(t.path(WITHDRAW), t.merchant_token, json=body, key="w-1")
    assert replay.headers.get("Idempotency-Replayed") == "true"
    assert ok(replay, 201)["withdrawal_id"] == asked["withdrawal_id"]
    mine = ok(api.get(t.path(WITHDRAW), t.merchant_token))["items"]
    assert [w["withdrawal_id"] for w in mine] == [asked["withdrawal_id"]]
    wid = asked["withdrawal_id"]
    refused(api.post(t.path(f"{WITHDRAW}/{wid}/approve"), t.merchant_token), 403, "forbidden")
    paid = ok(api.post(t.path(f"{WITHDRAW}/{wid}/approve"), t.admin_token, key="a-1"))
    assert (paid["status"], paid["approved_by"]) == ("paid", [t.admin_id])
    after = money(server, t, store, owner)
    assert (after[store], after[owner]) == (200, own_before)
    with store_of(server).read() as conn:
        state, _ = store_of(server).load_state(conn, t.tenant_id)
    assert (state.withdrawing, state.withdrawn) == (0, 400)
    audit_clean(server, t)


def test_refused_store_withdrawals_change_nothing(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    _paid_royalties(api, server, t)
    store = t.merchant_id
    db = store_of(server)
    before = snapshot(db, t.tenant_id), money(server, t, store)
    too_much = {"amount": "6.01", "merchant_id": store}
    answer = api.post(t.path(WITHDRAW), t.merchant_token, json=too_much)
    refused(answer, 409, "insufficient_balance")
    others = {"amount": "1.00", "merchant_id": store}
    refused(api.post(t.path(WITHDRAW), t.consumer_token, json=others), 404, "not_found")
    refused(api.post(t.path(WITHDRAW), t.admin_token, json=others), 404, "not_found")
    unknown = {"amount": "1.00", "merchant_id": "mch_nobody"}
    refused(api.post(t.path(WITHDRAW), t.merchant_token, json=unknown), 404, "not_found")
    missing = api.post(t.path(WITHDRAW), t.merchant_token, json=others, key=None)
    assert missing.status_code == 400, missing.text
    assert (snapshot(db, t.tenant_id), money(server, t, store)) == before
    with db.read() as conn:
        assert conn.execute(market_royalty_payouts.select()).first() is not None
    audit_clean(server, t)
