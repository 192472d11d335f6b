"""The issuers' royalties over real HTTP on SQLite and PostgreSQL: trades accrue them to the
collection's issuer; an admin's payout moves them into the issuer's cash as one balanced
journal, once per issuer and day (a replay answers the first payout, a second payout of the
day pays nothing); refusals (no Idempotency-Key, a bad day, a consumer, a key without the
admin scope) change nothing. The audit stays clean and every fen deposited is accounted for."""

from __future__ import annotations

from typing import Any

from mall_api import Api, TenantFixture, ok
from market_money_kit import audit_clean, db_of, fund, money, refused, user
from sqlalchemy import select
from test_api_key_scopes import new_key
from test_api_market_money import _list, _market

from tokenmall.adapters.db.market.tables import market_royalty_payouts

ROYALTIES = "/market/royalties"
PAYOUT = "/market/royalties/payout"


def _payouts(server: Any, t: TenantFixture) -> list[tuple[Any, ...]]:
    p = market_royalty_payouts.c
    with db_of(server).read() as conn:
        found = conn.execute(
            select(p.issuer_id, p.business_day, p.amount, p.journal_id)
            .where(p.tenant_id == t.tenant_id)
            .order_by(p.payout_id)
        ).all()
    return [tuple(r) for r in found]


def _trade(api: Api, t: TenantFixture, cid: str, serial: int, price: str, buyer: str) -> None:
    listed = ok(_list(api, t, t.consumer_token, cid, serial, price))
    ok(api.post(t.path(f"/market/orders/{listed['order_id']}/take"), buyer))


def test_royalties_accrue_and_are_paid_out_once_a_day(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    seller, issuer = t.consumer_id, t.merchant_id
    cid = _market(api, server, t, seller, seller)
    buyer, buyer_token = user(api, t)
    fund(server, t, buyer, 100_000)
    _trade(api, t, cid, 1, "120.00", buyer_token)  # royalty 6.00 to the issuer
    report = ok(api.get(t.path(ROYALTIES), t.admin_token))
    assert report["issuers"] == [
        {"issuer_id": issuer, "earned": "6.00", "paid": "0.00", "accrued": "6.00"}
    ]
    assert (report["payouts"], report["total"]) == ([], 0)
    assert ok(api.get(t.path(ROYALTIES), t.merchant_token))["issuers"] == report["issuers"]
    refused(api.get(t.path(ROYALTIES), t.consumer_token), 403, "forbidden")

    paid = ok(api.post(t.path(PAYOUT), t.admin_token, json={}, key="pay-1"))["payouts"]
    assert [(p["issuer_id"], p["amount"]) for p in paid] == [(issuer, "6.00")]
    after = money(server, t, issuer, seller, buyer)
    assert (after[issuer], after["royalties"]) == (600, 0)
    assert after[issuer] + after[seller] + after[buyer] + after["market_fees"] == 100_000
    # a replay answers the first payout and changes nothing
    again = api.post(t.path(PAYOUT), t.admin_token, json={}, key="pay-1")
    assert again.headers.get("Idempotency-Replayed") == "true"
    assert ok(again)["payouts"] == paid
    # another payout the same day pays nothing, even of royalties accrued since
    _trade(api, t, cid, 2, "100.00", buyer_token)  # royalty 5.00
    assert ok(api.post(t.path(PAYOUT), t.admin_token, json={}))["payouts"] == []
    assert money(server, t, issuer)[issuer] == 600
    assert len(_payouts(server, t)) == 1
    report = ok(api.get(t.path(ROYALTIES), t.admin_token))
    assert report["issuers"] == [
        {"issuer_id": issuer, "earned": "11.00", "paid": "6.00", "accrued": "5.00"}
    ]
    assert [(p["issuer_id"], p["amount"]) for p in report["payouts"]] == [(issuer, "6.00")]
    assert report["total"] == 1
    page = ok(api.get(t.path(ROYALTIES), t.admin_token, params={"offset": 1}))
    assert (page["payouts"], page["total"]) == ([], 1)
    audit_clean(server, t)


def test_refused_payouts_change_nothing(api: Api, server: Any, tenant: TenantFixture) -> None:
    t = tenant
    seller, issuer = t.consumer_id, t.merchant_id
    cid = _market(api, server, t, seller)
    buyer, buyer_token = user(api, t)
    fund(server, t, buyer, 50_000)
    _trade(api, t, cid, 1, "200.00", buyer_token)  # royalty 10.00

    def state() -> Any:
        return money(server, t, issuer, seller, buyer), _payouts(server, t)

    before = state()
    assert before[0]["royalties"] == 1_000
    missing = api.post(t.path(PAYOUT), t.admin_token, json={}, key=None)
    assert missing.status_code == 400, missing.text
    assert missing.json()["error"]["field"] == "Idempotency-Key"
    for day in ("2026-13-01", "tomorrow", "2999-01-01"):
        answer = api.post(t.path(PAYOUT), t.admin_token, json={"day": day})
        assert refused(answer, 422, "invalid_input")["field"] == "day"
    bad = api.post(t.path(PAYOUT), t.admin_token, json={"day": 20261201})
    assert bad.status_code == 422, bad.text
    refused(api.post(t.path(PAYOUT), t.consumer_token, json={}), 403, "forbidden")
    refused(api.post(t.path(PAYOUT), t.merchant_token, json={}), 403, "forbidden")
    read_key = new_key(api, t, ["read"])["token"]
    refused(api.post(t.path(PAYOUT), read_key, json={}), 403, "insufficient_scope")
    paged = api.get(t.path(ROYALTIES), t.admin_token, params={"limit": 0})
    assert (paged.status_code, paged.json()["error"]["field"]) == (422, "limit")
    assert state() == before
    audit_clean(server, t)
