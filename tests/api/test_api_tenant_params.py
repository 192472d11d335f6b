"""A tenant's admins change their own tenant's economy parameters (issue 5): the operator's
validation and audited ledger command, ``changed_by`` = the admin, optimistic version, replay,
and nobody else: consumers and merchants 403, another tenant's admin 404, nothing changed."""

from __future__ import annotations

import uuid
from typing import Any

from mall_api import Api, TenantFixture, ok


def _params(api: Api, t: TenantFixture) -> dict[str, Any]:
    return dict(ok(api.get(t.path("/params"), t.admin_token)))


def _history(api: Api, t: TenantFixture) -> list[dict[str, Any]]:
    return list(ok(api.get(t.path("/params/history"), t.admin_token))["items"])


def test_an_admin_changes_a_parameter_audited_with_their_name(
    api: Api, tenant: TenantFixture
) -> None:
    before = _params(api, tenant)
    version = before["params_version"]
    key = uuid.uuid4().hex
    body = {"params": {"sell_fee_rate": "0.05"}, "params_version": version}
    changed = ok(api.patch(tenant.path("/params"), tenant.admin_token, json=body, key=key))
    assert changed["params"]["sell_fee_rate"] == "0.05"
    assert changed["params_version"] == version + 1
    # The same request again is replayed: the same answer, no second change.
    again = ok(api.patch(tenant.path("/params"), tenant.admin_token, json=body, key=key))
    assert again == changed
    assert _params(api, tenant)["params_version"] == version + 1
    # The same key with another body is a conflict.
    other = {"params": {"sell_fee_rate": "0.06"}, "params_version": version + 1}
    assert (
        api.patch(tenant.path("/params"), tenant.admin_token, json=other, key=key).status_code
        == 409
    )
    history = _history(api, tenant)
    assert [h["params_version"] for h in history][-2:] == [version, version + 1]
    assert history[-1]["changed_by"] == tenant.admin_id
    assert history[-1]["params"]["sell_fee_rate"] == "0.05"
    # A stale version is refused (409) and changes nothing.
    stale = api.patch(
        tenant.path("/params"),
        tenant.admin_token,
        json={"params": {"sell_fee_rate": "0.07"}, "params_version": version},
    )
    assert stale.status_code == 409, stale.text
    assert stale.json()["error"]["field"] == "params_version"
    assert _params(api, tenant)["params"]["sell_fee_rate"] == "0.05"


def test_bad_values_are_refused_naming_the_field_and_change_nothing(
    api: Api, tenant: TenantFixture
) -> None:
    before = _params(api, tenant)
    history = _history(api, tenant)
    for params, field in (
        ({"pool_rate": "1.5"}, "params.pool_rate"),
        ({"grant_rate": "0.95"}, "params.grant_rate"),
        ({"referral_rates": ["0.1", "0.1", "0.1", "0.1"]}, "params.referral_rates"),
        ({"max_supply": "-5"}, "params.max_supply"),
        ({"sell_fee_rate": 0.05}, "params.sell_fee_rate"),  # a JSON number, not a decimal string
        ({"no_such_parameter": "1"}, "params.no_such_parameter"),
        ({"sell_fee_to": "fees"}, "params.sell_fee_to"),
        ({"sell_fee_to": True}, "params.sell_fee_to"),
    ):
        answer = api.patch(tenant.path("/params"), tenant.admin_token, json={"params": params})
        assert answer.status_code == 422, (params, answer.text)
        assert answer.json()["error"]["field"] == field, (params, answer.json())
        assert "Traceback" not in answer.text
    for body in (
        {"params": {}},
        {"params": {"sell_fee_rate": "0.05"}, "surprise": 1},
        {"params": {"sell_fee_rate": "0.05"}, "params_version": "one"},
        [],
    ):
        answer = api.patch(tenant.path("/params"), tenant.admin_token, json=body)
        assert answer.status_code == 422, (body, answer.text)
    no_key = api.patch(
        tenant.path("/params"),
        tenant.admin_token,
        json={"params": {"sell_fee_rate": "0.05"}},
        key=None,
    )
    assert no_key.status_code in (400, 422, 428), no_key.text
    assert _params(api, tenant) == before
    assert _history(api, tenant) == history


def test_only_the_tenants_own_admins_may_change_it(
    api: Api, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    before = _params(api, tenant)
    body = {"params": {"sell_fee_rate": "0.02"}}
    for token in (tenant.consumer_token, tenant.merchant_token):
        answer = api.patch(tenant.path("/params"), token, json=body)
        assert answer.status_code == 403, answer.text
        assert api.get(tenant.path("/params/history"), token).status_code == 403
    # Another tenant's admin: 404 under A's path, as for every resource of A.
    answer = api.patch(tenant.path("/params"), other_tenant.admin_token, json=body)
    assert answer.status_code == 404, answer.text
    assert api.get(tenant.path("/params/history"), other_tenant.admin_token).status_code == 404
    assert api.patch(tenant.path("/params"), None, json=body).status_code == 401
    # And their own change stays theirs.
    ok(api.patch(other_tenant.path("/params"), other_tenant.admin_token, json=body))
    assert _params(api, tenant) == before
    assert _params(api, other_tenant)["params"]["sell_fee_rate"] == "0.02"


def test_the_sell_fee_goes_to_the_dividend_pool_unless_the_admin_says_otherwise(
    api: Api, tenant: TenantFixture
) -> None:
    before = _params(api, tenant)
    assert before["params"]["sell_fee_to"] == "dividend_pool"
    body = {"params": {"sell_fee_to": "backing_pool"}, "params_version": before["params_version"]}
    changed = ok(api.patch(tenant.path("/params"), tenant.admin_token, json=body))
    assert changed["params"]["sell_fee_to"] == "backing_pool"
    assert _params(api, tenant)["params"]["sell_fee_to"] == "backing_pool"
    assert _history(api, tenant)[-1]["params"]["sell_fee_to"] == "backing_pool"


def test_a_change_that_would_leave_skus_unbookable_is_refused_listing_them(
    api: Api, tenant: TenantFixture
) -> None:
    # Given the tenant's SKU (30.00 on 100.00) and another carrying 70.00 on 100.00, the most
    # the default 30 % dividend share leaves room for
    big = ok(
        api.post(
            tenant.path(f"/products/{tenant.product_id}/skus"),
            tenant.merchant_token,
            json={"name": "magnum", "price": "100.00", "pool_contribution": "70.00"},
        ),
        201,
    )
    before = _params(api, tenant)
    history = _history(api, tenant)
    version = before["params_version"]
    # When an admin raises the dividend share or adds a money commission, the change is
    # refused, naming the parameter and listing the SKUs it would break
    for params, field, broken in (
        ({"dividend_rate": "0.31"}, "params.dividend_rate", [big["sku_id"]]),
        (
            {"dividend_rate": "0.71", "pool_rate": "0.29"},
            "params.dividend_rate",
            [big["sku_id"], tenant.sku_id],
        ),
        ({"commission_rates": ["0.05"]}, "params.commission_rates", [big["sku_id"]]),
    ):
        body = {"params": params, "params_version": version}
        answer = api.patch(tenant.path("/params"), tenant.admin_token, json=body)
        assert answer.status_code == 422, (params, answer.text)
        error = answer.json()["error"]
        assert error["field"] == field, (params, error)
        for sku_id in broken:
            assert sku_id in error["message"], (params, error)
        assert f"{len(broken)} SKU(s)" in error["message"]
    # Then nothing changed
    assert _params(api, tenant) == before
    assert _history(api, tenant) == history
    # and a change that leaves room is applied
    body = {"params": {"dividend_rate": "0.30", "commission_rates": []}, "params_version": version}
    assert ok(api.patch(tenant.path("/params"), tenant.admin_token, json=body))["params_version"]
