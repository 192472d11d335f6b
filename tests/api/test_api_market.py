"""The market's API over real HTTP on SQLite and PostgreSQL: the admin's profile and
collection settings, listing (挂单), cancelling, gifting (转赠) under the `open` and
`cn-gift-only` profiles; each refusal's market.md code reachable, with nothing changed."""

from __future__ import annotations

import uuid
from typing import Any

from mall_api import Api, TenantFixture, ok
from sqlalchemy import select

from tokenmall.adapters.db.market.tables import market_orders
from tokenmall.adapters.db.nfg.tables import nfg_tokens
from tokenmall.demo.nfg import add_collection, mint
from tokenmall.domain.nfg.records import Collection, CollectionStatus, PriceAsset
from tokenmall.domain.nfg.rights import Rights
from tokenmall.services.mall.uow import Database, utc_now


def _db(server: Any) -> Database:
    found: Database = server.app.state.database
    return found


def _collection(server: Any, t: TenantFixture, *owners: str) -> str:
    """A published collection of ``t``, one token minted to each of ``owners`` in turn."""
    cid = "col_" + uuid.uuid4().hex[:20]
    now = utc_now()
    config = server.app.state.log_config
    with _db(server).unit() as unit:
        add_collection(
            unit, config,
            Collection(
                tenant_id=t.tenant_id, collection_id=cid, name="黑卡", description="",
                issuer_merchant_id=t.merchant_id, edition_size=10, price=10_000,
                price_asset=PriceAsset.MONEY, per_user_limit=5, rights=Rights(),
                status=CollectionStatus.PUBLISHED, created_at=now,
            ),
            now,
        )  # fmt: skip
        for owner in owners:
            mint(unit, config, t.tenant_id, cid, owner, now)
    return cid


def _snapshot(server: Any, t: TenantFixture) -> tuple[list[Any], list[Any]]:
    with _db(server).read() as conn:
        tokens = conn.execute(
            select(
                nfg_tokens.c.collection_id,
                nfg_tokens.c.serial,
                nfg_tokens.c.owner_id,
                nfg_tokens.c.state,
            )
            .where(nfg_tokens.c.tenant_id == t.tenant_id)
            .order_by(nfg_tokens.c.collection_id, nfg_tokens.c.serial)
        ).all()
        orders = conn.execute(
            select(market_orders.c.order_id, market_orders.c.status)
            .where(market_orders.c.tenant_id == t.tenant_id)
            .order_by(market_orders.c.order_id)
        ).all()
    return [tuple(r) for r in tokens], [tuple(r) for r in orders]


def _refused(answer: Any, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    assert error["code"] == code, error
    return error


def _list(api: Api, t: TenantFixture, cid: str, price: str = "120.00", serial: int = 1,
          token: str | None = None, **kw: Any) -> Any:  # fmt: skip
    body = {"collection_id": cid, "serial": serial, "price": price}
    return api.post(t.path("/market/orders/list"), token or t.consumer_token, json=body, **kw)


def test_list_then_cancel_frees_the_token_and_replays_change_nothing(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    cid = _collection(server, t, t.consumer_id)
    listed = ok(_list(api, t, cid, key="list-1"))
    assert (listed["kind"], listed["status"], listed["price"]) == ("listing", "open", "120.00")
    assert _snapshot(server, t)[0] == [(cid, 1, t.consumer_id, "listed")]
    replay = ok(_list(api, t, cid, key="list-1"))
    assert replay == listed
    assert len(_snapshot(server, t)[1]) == 1
    locked = _refused(_list(api, t, cid), 409, "token_locked")
    assert locked["message"].startswith("该藏品已挂单")
    english = _list(api, t, cid, params={"lang": "en"}).json()["error"]
    assert english["code"] == "token_locked"
    assert english["message"].startswith("token_locked")
    mine = ok(api.get(t.path("/market/orders/mine"), t.consumer_token))["orders"]
    assert [o["order_id"] for o in mine] == [listed["order_id"]]
    path = t.path(f"/market/orders/{listed['order_id']}/cancel")
    _refused(api.post(path, t.merchant_token), 403, "not_owner")
    cancelled = ok(api.post(path, t.consumer_token))
    assert (cancelled["status"], cancelled["reason"]) == ("cancelled", "cancelled")
    assert _snapshot(server, t)[0] == [(cid, 1, t.consumer_id, "held")]
    _refused(api.post(path, t.consumer_token), 404, "not_found")


def test_refusals_of_a_listing_change_nothing(api: Api, server: Any, tenant: TenantFixture) -> None:
    t = tenant
    cid = _collection(server, t, t.consumer_id)
    before = _snapshot(server, t)
    _refused(_list(api, t, cid, token=t.merchant_token), 403, "not_owner")
    _refused(_list(api, t, cid, serial=2), 404, "not_found")
    _refused(_list(api, t, "col_missing"), 404, "not_found")
    error = _refused(_list(api, t, cid, price="1.234"), 422, "invalid_input")
    assert error["field"] == "price"
    _refused(_list(api, t, cid, price="0"), 422, "invalid_input")
    halt = t.path(f"/market/collections/{cid}/settings")
    ok(api.post(halt, t.admin_token, json={"halted": True}))
    _refused(_list(api, t, cid), 409, "halted")
    assert _snapshot(server, t) == before
    ok(api.post(halt, t.admin_token, json={"halted": False}))
    ok(_list(api, t, cid))


def test_a_gift_cancels_the_tokens_listing_in_the_same_transaction(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    cid = _collection(server, t, t.consumer_id)
    listed = ok(_list(api, t, cid))
    body = {"collection_id": cid, "serial": 1, "to_user_id": t.merchant_user_id}
    # A listed token cannot be given; after a cancel it can, and a new listing then goes
    # with the gift.
    _refused(api.post(t.path("/market/gifts"), t.consumer_token, json=body), 409, "token_locked")
    ok(api.post(t.path(f"/market/orders/{listed['order_id']}/cancel"), t.consumer_token))
    ok(api.post(t.path("/market/gifts"), t.consumer_token, json=body, key="gift-1"))
    assert _snapshot(server, t)[0] == [(cid, 1, t.merchant_user_id, "held")]
    again = ok(api.post(t.path("/market/gifts"), t.consumer_token, json=body, key="gift-1"))
    assert again["owner_id"] == t.merchant_user_id
    _refused(api.post(t.path("/market/gifts"), t.consumer_token, json=body), 403, "not_owner")


def test_gift_refusals_hold_period_and_unknown_recipient(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    cid = _collection(server, t, t.consumer_id)
    ok(api.post(t.path(f"/market/collections/{cid}/settings"), t.admin_token,
                json={"gift_hold_days": 30}))  # fmt: skip
    before = _snapshot(server, t)
    body = {"collection_id": cid, "serial": 1, "to_user_id": t.merchant_user_id}
    _refused(api.post(t.path("/market/gifts"), t.consumer_token, json=body), 409, "hold_period")
    body["to_user_id"] = "usr_nobody"
    _refused(api.post(t.path("/market/gifts"), t.consumer_token, json=body), 404, "not_found")
    assert _snapshot(server, t) == before


def test_cn_gift_only_forbids_listings_and_requires_real_names(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    cid = _collection(server, t, t.consumer_id)
    listed = ok(_list(api, t, cid))
    settings = t.path("/market/settings")
    _refused(api.post(settings, t.consumer_token, json={"profile": "open"}), 403, "forbidden")
    assert ok(api.get(settings, t.admin_token)) == {"profile": "open", "kyc_required": False}
    ok(api.post(settings, t.admin_token, json={"profile": "cn-gift-only"}))
    # the profile change closed the open listing and freed its token
    assert _snapshot(server, t) == (
        [(cid, 1, t.consumer_id, "held")],
        [(listed["order_id"], "cancelled")],
    )
    before = _snapshot(server, t)
    _refused(_list(api, t, cid), 403, "profile_forbids")
    body = {"collection_id": cid, "serial": 1, "to_user_id": t.merchant_user_id}
    _refused(api.post(t.path("/market/gifts"), t.consumer_token, json=body), 403, "kyc_required")
    assert _snapshot(server, t) == before


def test_settings_refuse_bad_values_naming_the_field(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    cid = _collection(server, t)
    path = t.path(f"/market/collections/{cid}/settings")
    error = _refused(api.post(path, t.admin_token, json={"fee_rate": "1.5"}), 422, "invalid_input")
    assert error["field"] == "fee_rate"
    _refused(api.post(path, t.admin_token, json={"fee_rate": 0.02}), 422, "invalid_request")
    made = ok(api.post(path, t.admin_token, json={"fee_rate": "0.02", "royalty_rate": "0.05"}))
    assert (made["fee_rate"], made["royalty_rate"], made["halted"]) == ("0.02", "0.05", False)
    assert ok(api.get(path, t.admin_token)) == made
    holidays = t.path("/market/holidays")
    ok(api.post(holidays, t.admin_token, json={"day": "2027-02-10"}))
    assert ok(api.get(holidays, t.admin_token))["holidays"] == [
        {"day": "2027-02-10", "workday": False}
    ]


def test_market_data_shows_the_floor_depth_and_holders(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    cid = _collection(server, t, t.consumer_id, t.consumer_id, t.merchant_user_id)
    path = t.path(f"/market/collections/{cid}")
    empty = ok(api.get(path, t.consumer_token))
    assert (empty["floor"], empty["highest_bid"], empty["last_price"]) == (None, None, None)
    assert (empty["volume_24h"], empty["holders"], empty["asks"]) == ("0.00", 2, [])
    ok(_list(api, t, cid, "130.00", serial=1))
    ok(_list(api, t, cid, "120.00", serial=2))
    ok(_list(api, t, cid, "120.00", serial=3, token=t.merchant_token))
    data = ok(api.get(path, t.consumer_token))
    assert data["floor"] == "120.00"
    assert data["asks"] == [{"price": "120.00", "orders": 2}, {"price": "130.00", "orders": 1}]
    assert data["bids"] == []
    assert data["candles"] == []
    _refused(api.get(t.path("/market/collections/col_missing")), 401, "unauthenticated")


def test_a_listed_token_cannot_leave_by_the_registrys_own_transfer(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    cid = _collection(server, t, t.consumer_id)
    ok(_list(api, t, cid))
    before = _snapshot(server, t)
    path = t.path(f"/nfg/tokens/{cid}/1/transfer")
    answer = api.post(path, t.consumer_token, json={"to_user_id": t.merchant_user_id})
    _refused(answer, 409, "token_locked")
    assert _snapshot(server, t) == before


def test_the_tenants_nfg_gift_hold_applies_to_market_gifts(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    cid = _collection(server, t, t.consumer_id)
    nfg = t.path("/nfg/settings")
    ok(api.call("PUT", nfg, t.admin_token, {"gift_hold_days": 7}))
    body = {"collection_id": cid, "serial": 1, "to_user_id": t.merchant_user_id}
    _refused(api.post(t.path("/market/gifts"), t.consumer_token, json=body), 409, "hold_period")
    settings = t.path(f"/market/collections/{cid}/settings")
    ok(api.post(settings, t.admin_token, json={"gift_hold_days": 0}))
    ok(api.post(t.path("/market/gifts"), t.consumer_token, json=body))


def test_an_offer_opens_and_a_gift_cancels_it_in_the_same_transaction(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    cid = _collection(server, t, t.consumer_id)
    body = {"collection_id": cid, "serial": 1, "to_user_id": t.merchant_user_id, "price": "99.00"}
    made = ok(api.post(t.path("/market/orders/offer"), t.consumer_token, json=body))
    assert (made["kind"], made["to_user_id"], made["price"]) == (
        "offer",
        t.merchant_user_id,
        "99.00",
    )
    assert _snapshot(server, t)[0] == [(cid, 1, t.consumer_id, "held")]
    to_self = {**body, "to_user_id": t.consumer_id}
    _refused(
        api.post(t.path("/market/orders/offer"), t.consumer_token, json=to_self), 409, "self_trade"
    )
    gift = {"collection_id": cid, "serial": 1, "to_user_id": t.admin_id}
    ok(api.post(t.path("/market/gifts"), t.consumer_token, json=gift))
    tokens, orders = _snapshot(server, t)
    assert tokens == [(cid, 1, t.admin_id, "held")]
    assert orders == [(made["order_id"], "cancelled")]
    mine = ok(api.get(t.path("/market/orders/mine"), t.consumer_token))["orders"]
    assert mine[0]["reason"] == "owner_changed"
    ok(api.post(t.path("/market/settings"), t.admin_token, json={"profile": "cn-gift-only"}))
    _refused(
        api.post(t.path("/market/orders/offer"), t.admin_token, json=body), 403, "profile_forbids"
    )
