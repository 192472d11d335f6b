"""The tenant configuration a checkout reads (payment channels, collections' rights,
parameters, order settings) is cached per process against one version read
(``services/mall/tenant_config.py``): each change is seen by the very next checkout, in this
process and in another (a second engine on the same database: a cache of its own, warmed
before the change and never told of it), and a tenant without the version's row is read
uncached."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from mall_api import Api, TenantFixture, ok
from orders_helpers import settings, store_of

from tokenmall.adapters.db.engine import make_engine
from tokenmall.demo.nfg import add_collection
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.nfg.records import Collection, CollectionStatus, PriceAsset
from tokenmall.domain.nfg.rights import Rights
from tokenmall.services.ledger.execute import execute
from tokenmall.services.mall import tenant_config
from tokenmall.services.mall.uow import Database, utc_now


def _buy(api: Api, t: TenantFixture, sku_id: str | None = None) -> Any:
    body = {"lines": [{"sku_id": sku_id or t.sku_id, "quantity": 1}]}
    return api.post(t.path("/checkout"), t.consumer_token, json=body)


def _stock(api: Api, t: TenantFixture, sku_id: str) -> int:
    return int(ok(api.get(t.path(f"/skus/{sku_id}"), t.admin_token))["stock"])


def _refused(api: Api, t: TenantFixture, sku_id: str, status: int, field: str) -> None:
    """A checkout refused with ``status`` naming ``field``, nothing reserved."""
    stock = _stock(api, t, sku_id)
    answer = _buy(api, t, sku_id)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["field"] == field
    assert _stock(api, t, sku_id) == stock


def _minutes_to_pay(answer: Any) -> int:
    assert answer.status_code == 201, answer.text
    (placed,) = answer.json()["orders"]
    waited = datetime.fromisoformat(placed["pay_by"]) - datetime.fromisoformat(placed["created_at"])
    return int(waited / timedelta(minutes=1))


def _sandbox(api: Api, t: TenantFixture, enabled: bool) -> None:
    path = t.path("/payment-channels/sandbox")
    ok(api.call("PUT", path, t.admin_token, json={"enabled": enabled}))


def _gate(server: Any, t: TenantFixture, sku_id: str) -> None:
    """A published collection whose ``may_buy`` names ``sku_id`` (the buyer holds none)."""
    now = utc_now()
    collection = Collection(
        tenant_id=t.tenant_id,
        collection_id="col_" + uuid.uuid4().hex[:20],
        name="黑卡",
        description="",
        issuer_merchant_id=t.merchant_id,
        edition_size=10,
        price=100,
        price_asset=PriceAsset.MONEY,
        per_user_limit=5,
        rights=Rights(may_buy=(sku_id,)),
        status=CollectionStatus.PUBLISHED,
        created_at=now,
    )
    with server.app.state.database.unit() as unit:
        add_collection(unit, server.app.state.log_config, collection, now)


def _dividend(server: Any, t: TenantFixture, rate: str) -> None:
    """The ledger's parameters changed directly (the API would refuse a change that leaves a
    SKU unpayable; the checkout checks it again)."""
    change = c.ChangeParams(
        tenant_id=t.tenant_id,
        idempotency_key="div-" + uuid.uuid4().hex,
        changes={"dividend_rate": rate},
    )
    execute(store_of(server), change)


def _heavy_sku(api: Api, t: TenantFixture) -> str:
    """A SKU whose contribution (70.00 on 100.00) leaves room for a 30 % dividend, no more."""
    body = {"name": "magnum", "price": "100.00", "stock": 10, "pool_contribution": "70.00"}
    path = t.path(f"/products/{t.product_id}/skus")
    return str(ok(api.post(path, t.merchant_token, json=body), 201)["sku_id"])


def test_each_configuration_change_is_seen_by_the_very_next_checkout(
    api: Api, tenant: TenantFixture, server: Any
) -> None:
    t = tenant
    heavy = _heavy_sku(api, t)
    # Given a checkout or two: this process's cache holds the tenant's configuration
    assert _minutes_to_pay(_buy(api, t)) == 30
    assert _buy(api, t, heavy).status_code == 201
    # Order settings: the payment's time limit
    settings(api, t, payment_timeout_minutes=15)
    assert _minutes_to_pay(_buy(api, t)) == 15
    # Payment channels: the only one switched off, then on again
    _sandbox(api, t, False)
    _refused(api, t, t.sku_id, 409, "payment_method")
    _sandbox(api, t, True)
    assert _minutes_to_pay(_buy(api, t)) == 15
    # Parameters: a dividend share the heavy SKU's contribution leaves no room for
    _dividend(server, t, "0.31")
    _refused(api, t, heavy, 422, "lines.0.sku_id")
    _dividend(server, t, "0.30")
    assert _buy(api, t, heavy).status_code == 201
    # Rights: a collection gating the SKU
    _gate(server, t, t.sku_id)
    _refused(api, t, t.sku_id, 403, "lines.0.sku_id")


def test_another_process_cache_sees_each_change_by_the_version(
    api: Api, tenant: TenantFixture, server: Any, db_url: str
) -> None:
    t = tenant
    # Another process: an engine of its own on the same database, its own cache.
    engine = make_engine(db_url)
    other = Database(engine)
    try:

        def seen() -> tenant_config.Config:
            with other.reading() as unit:
                found = tenant_config.current(unit, t.tenant_id)
            assert found is not None
            return found

        before = seen()
        assert seen() is before  # cached: the same copy while the versions are unchanged
        assert before.settings.payment_timeout_minutes == 30
        settings(api, t, payment_timeout_minutes=20)
        after = seen()
        assert after.settings.payment_timeout_minutes == 20
        assert after.versions[1] > before.versions[1]
        _sandbox(api, t, False)
        assert [(row.channel, row.enabled) for row in seen().channels] == [("sandbox", False)]
        _gate(server, t, t.sku_id)
        assert [col[2] for col in seen().collections] == [(t.sku_id,)]
        dividend = seen().params.dividend_rate
        _dividend(server, t, "0.25")
        changed = seen()
        assert changed.params.dividend_rate != dividend
        assert changed.versions[0] > after.versions[0]
    finally:
        engine.dispose()


def test_a_tenant_without_the_version_row_is_read_uncached(server: Any) -> None:
    db: Database = server.app.state.database
    with db.reading() as unit:
        assert tenant_config.current(unit, "no-such-tenant") is None
        assert tenant_config.configured(unit, "no-such-tenant") is unit
