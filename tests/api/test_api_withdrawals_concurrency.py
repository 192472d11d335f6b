"""Withdrawals under concurrent requests over real HTTP: racing approvals pay once, racing
requests never hold more cash than there is."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from mall_api import Api, TenantFixture, ok
from sqlalchemy import select
from wallet_helpers import audit_clean, buy, second_admin, store_of, verify_kyc

from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.tables import economy_state
from tokenmall.domain.money import format_money, parse_money


@pytest.fixture
def store(server: Any) -> Store:
    return store_of(server)


def withdrawn(store: Store, tenant_id: str) -> tuple[int, int]:
    with store.read() as conn:
        row = conn.execute(
            select(economy_state.c.withdrawing, economy_state.c.withdrawn).where(
                economy_state.c.tenant_id == tenant_id
            )
        ).one()
    return int(row[0]), int(row[1])


def test_racing_approvals_pay_once_and_racing_requests_hold_only_the_cash(
    api: Api, tenant: TenantFixture, store: Store, server_base: str
) -> None:
    t, me, token = tenant.tenant_id, tenant.consumer_id, tenant.consumer_token
    _, admin2_token = second_admin(api, tenant)
    verify_kyc(api, tenant, me)
    buy(store, t, me, 20_000)
    points = ok(api.get(tenant.path("/wallet"), token))["points"]
    ok(api.post(tenant.path("/wallet/sell"), token, json={"points": points}))
    cash = parse_money(ok(api.get(tenant.path("/wallet"), token))["cash"])

    def call(args: tuple[str, str, dict[str, Any] | None]) -> int:
        who, path, body = args
        client = Api(server_base)
        try:
            return client.post(path, who, json=body).status_code
        finally:
            client.http.close()

    # one approver needed; four approvals race (two admins, twice each): one pays
    made = ok(api.post(tenant.path("/withdrawals"), token, json={"amount": "5.00"}), 201)
    approve = tenant.path(f"/withdrawals/{made['withdrawal_id']}/approve")
    jobs = [(tenant.admin_token, approve, None), (admin2_token, approve, None)] * 2
    with ThreadPoolExecutor(4) as pool:
        codes = sorted(pool.map(call, jobs))
    assert codes == [200, 409, 409, 409], codes
    assert withdrawn(store, t) == (0, 500)

    # racing requests for more than half the remaining cash each: exactly one is held
    left = cash - 500
    half = format_money(left // 2 + 1)
    jobs = [(token, tenant.path("/withdrawals"), {"amount": half})] * 4
    with ThreadPoolExecutor(4) as pool:
        codes = sorted(pool.map(call, jobs))
    assert codes == [201, 409, 409, 409], codes
    assert withdrawn(store, t) == (left // 2 + 1, 500)
    audit_clean(store, t)
