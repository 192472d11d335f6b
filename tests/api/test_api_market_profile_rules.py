"""The profile's rules hold on every path that moves a token, over real HTTP on SQLite and
PostgreSQL: the registry's own transfer (转赠) is the market's gift; real-name status is the
member's (an admin's revocation counts at once); the holder limit counts every user who ever
held a token, minted ones and the owners a gift replaced; a redemption closes the token's
agreement; refusals name the API's fields."""

from __future__ import annotations

from typing import Any

from mall_api import Api, TenantFixture, ok
from test_api_market import _collection, _refused, _snapshot
from wallet_helpers import register, verify_kyc


def _gift(api: Api, t: TenantFixture, cid: str, serial: int, to: str, token: str) -> Any:
    body = {"collection_id": cid, "serial": serial, "to_user_id": to}
    return api.post(t.path("/market/gifts"), token, json=body)


def _transfer(api: Api, t: TenantFixture, cid: str, to: str, token: str) -> Any:
    return api.post(t.path(f"/nfg/tokens/{cid}/1/transfer"), token, json={"to_user_id": to})


def test_the_registrys_transfer_follows_the_profile(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    cid = _collection(server, t, t.consumer_id)
    ok(api.post(t.path("/market/settings"), t.admin_token, json={"profile": "cn-gift-only"}))
    before = _snapshot(server, t)
    # real names first (both sides), then the profile's 180-day gift hold
    error = _refused(
        _transfer(api, t, cid, t.merchant_user_id, t.consumer_token), 403, "kyc_required"
    )
    assert "kyc_required" in error["message"]
    verify_kyc(api, t, t.consumer_id)
    verify_kyc(api, t, t.merchant_user_id)
    error = _refused(
        _transfer(api, t, cid, t.merchant_user_id, t.consumer_token), 409, "hold_period"
    )
    assert error["field"] == "serial"
    assert "may be given from 20" in error["message"]
    assert _snapshot(server, t) == before
    settings = t.path(f"/market/collections/{cid}/settings")
    ok(api.post(settings, t.admin_token, json={"gift_hold_days": 0}))
    moved = ok(_transfer(api, t, cid, t.merchant_user_id, t.consumer_token))
    assert moved["owner_id"] == t.merchant_user_id
    assert _snapshot(server, t)[0] == [(cid, 1, t.merchant_user_id, "held")]


def test_an_admins_revocation_of_real_names_counts_at_once(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    cid = _collection(server, t, t.consumer_id)
    ok(api.post(t.path("/market/settings"), t.admin_token, json={"profile": "cn-licensed"}))
    verify_kyc(api, t, t.consumer_id)
    verify_kyc(api, t, t.merchant_user_id)
    ok(api.patch(t.path(f"/users/{t.consumer_id}"), t.admin_token, json={"kyc_status": "none"}))
    before = _snapshot(server, t)
    _refused(_gift(api, t, cid, 1, t.merchant_user_id, t.consumer_token), 403, "kyc_required")
    assert _snapshot(server, t) == before
    verify_kyc(api, t, t.consumer_id)
    ok(_gift(api, t, cid, 1, t.merchant_user_id, t.consumer_token))


def test_the_holder_limit_counts_minted_holders_and_replaced_owners(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    cid = _collection(server, t, t.consumer_id, t.merchant_user_id)
    ok(api.post(t.path("/market/settings"), t.admin_token, json={"profile": "cn-licensed"}))
    newcomer, newcomer_token = register(api, t, "newcomer@shop.test")
    for user in (t.consumer_id, t.merchant_user_id, t.admin_id, newcomer):
        verify_kyc(api, t, user)
    settings = t.path(f"/market/collections/{cid}/settings")
    # two minted holders: a third is one too many
    ok(api.post(settings, t.admin_token, json={"holder_limit": 2}))
    before = _snapshot(server, t)
    error = _refused(_gift(api, t, cid, 1, t.admin_id, t.consumer_token), 409, "holder_limit")
    assert _snapshot(server, t) == before
    assert error["field"] is None
    # a holder already counted may receive
    ok(_gift(api, t, cid, 1, t.merchant_user_id, t.consumer_token))
    # the consumer gave their token away and still counts: consumer, merchant, admin = 3
    ok(api.post(settings, t.admin_token, json={"holder_limit": 3}))
    ok(_gift(api, t, cid, 1, t.admin_id, t.merchant_token))
    before = _snapshot(server, t)
    _refused(_gift(api, t, cid, 1, newcomer, t.admin_token), 409, "holder_limit")
    assert _snapshot(server, t) == before
    ok(api.post(settings, t.admin_token, json={"holder_limit": 4}))
    ok(_gift(api, t, cid, 1, newcomer, t.admin_token))
    assert newcomer_token


def test_refusals_name_the_apis_fields(api: Api, server: Any, tenant: TenantFixture) -> None:
    t = tenant
    cid = _collection(server, t, t.consumer_id)
    error = _refused(_gift(api, t, cid, 1, t.admin_id, t.merchant_token), 403, "not_owner")
    assert error["field"] == "serial"
    listed = ok(
        api.post(
            t.path("/market/orders/list"),
            t.consumer_token,
            json={"collection_id": cid, "serial": 1, "price": "100.00"},
        )
    )
    error = _refused(_gift(api, t, cid, 1, t.admin_id, t.consumer_token), 409, "token_locked")
    assert error["field"] == "serial"
    path = t.path(f"/market/orders/{listed['order_id']}/cancel")
    error = _refused(api.post(path, t.merchant_token), 403, "not_owner")
    assert error["field"] == "order_id"
    error = _refused(_gift(api, t, cid, 1, t.consumer_id, t.consumer_token), 409, "token_locked")
    ok(api.post(path, t.consumer_token))
    error = _refused(_gift(api, t, cid, 1, t.consumer_id, t.consumer_token), 422, "invalid_input")
    assert error["field"] == "to_user_id"
