"""GET /economy/health: the tenant's solvency report, for its admins only."""

from __future__ import annotations

from mall_api import Api, TenantFixture, ok


def test_admin_reads_the_health_report_with_what_backs_it(api: Api, tenant: TenantFixture) -> None:
    body = ok(api.get(tenant.path("/economy/health"), tenant.admin_token))
    assert body["tenant_id"] == tenant.tenant_id
    assert body["inflow_window_days"] == 7
    # a new tenant: nothing circulates, the price is the initial price, no promise yet
    assert body["price"] == "1.00000000"
    assert body["pool"] == "0.00"
    assert body["quota_outstanding"] == "0.00"
    assert body["days_to_pay_quota"] == "0"
    assert all(
        isinstance(v, str)
        for k, v in body.items()
        if k not in ("statement", "stable_cover", "inflow_window_days")
    )
    assert any("promises no returns" in line for line in body["statement"])


def test_consumers_may_not_read_it_and_other_tenants_see_nothing(
    api: Api, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    assert api.get(tenant.path("/economy/health"), tenant.consumer_token).status_code == 403
    assert api.get(tenant.path("/economy/health"), other_tenant.admin_token).status_code == 404
    assert api.get(tenant.path("/economy/health")).status_code == 401


def test_a_bad_window_is_refused(api: Api, tenant: TenantFixture) -> None:
    for bad in ("0", "-1", "abc", "1.5", "366"):
        answer = api.get(tenant.path(f"/economy/health?window_days={bad}"), tenant.admin_token)
        assert answer.status_code == 422, (bad, answer.text)
