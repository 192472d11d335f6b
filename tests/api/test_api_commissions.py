"""Distribution commissions over real HTTP: at most 3 levels with the tenant's commission_rates,
frozen until the order completes, released to cash, clawed back after payout into a debt that
is repaid before any withdrawal."""

from __future__ import annotations

from typing import Any

import pytest
from mall_api import Api, TenantFixture, make_tenant, ok
from sqlalchemy import select
from wallet_helpers import (
    audit_clean,
    buy,
    complete,
    invite_code,
    refund,
    register,
    snapshot,
    store_of,
    verify_kyc,
)

from tokenmall.adapters.db.mall.commissions import commissions
from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.tables import economy_state


@pytest.fixture
def store(server: Any) -> Store:
    return store_of(server)


@pytest.fixture
def shop(api: Api, operator_token: str) -> TenantFixture:
    """A tenant created by the operator with commission rates on three levels."""
    return make_tenant(api, operator_token, params={"commission_rates": ["0.05", "0.03", "0.02"]})


def chain(api: Api, tenant: TenantFixture) -> list[tuple[str, str]]:
    """a ← b ← c ← d ← e: each invited by the one before (verified people: the tenant requires
    KYC for withdrawals, so only verified inviters earn); returns (user_id, token) of each."""
    people: list[tuple[str, str]] = []
    for name in "abcde":
        code = invite_code(api, tenant, people[-1][1]) if people else None
        people.append(register(api, tenant, f"{name}@shop.test", code, name=name.upper()))
        verify_kyc(api, tenant, people[-1][0])
    return people


def receivables(store: Store, tenant_id: str) -> int:
    with store.read() as conn:
        return int(
            conn.execute(
                select(economy_state.c.receivables).where(economy_state.c.tenant_id == tenant_id)
            ).scalar_one()
        )


def rows(store: Store, tenant_id: str, ref: str) -> list[tuple[Any, ...]]:
    with store.read() as conn:
        return [
            (r.level, r.beneficiary, r.amount_fen, r.status, r.from_cash_fen, r.debt_fen)
            for r in conn.execute(
                select(commissions)
                .where(commissions.c.tenant_id == tenant_id, commissions.c.order_ref == ref)
                .order_by(commissions.c.level)
            )
        ]


def test_three_levels_frozen_released_clawed_back_into_a_debt_repaid_before_withdrawal(
    api: Api, shop: TenantFixture, store: Store
) -> None:
    t = shop.tenant_id
    (_, a_tok), (b, b_tok), (c, _), (d, d_tok), (e, _) = chain(api, shop)
    ref = buy(store, t, e, 10_000)
    # levels 1..3 above the buyer: d 5%, c 3%, b 2%; a is a 4th level and gets nothing
    assert rows(store, t, ref) == [
        (1, d, 500, "frozen", None, None),
        (2, c, 300, "frozen", None, None),
        (3, b, 200, "frozen", None, None),
    ]
    mine = ok(api.get(shop.path("/referrals/me"), d_tok))["commissions"]
    assert mine["frozen"] == "5.00"
    assert mine["released"] == "0.00"
    assert mine["recent"][0]["order_ref"] == ref
    assert mine["recent"][0]["level"] == 1
    assert ok(api.get(shop.path("/referrals/me"), a_tok))["commissions"]["frozen"] == "0.00"
    assert ok(api.get(shop.path("/wallet"), d_tok))["cash"] == "0.00"  # frozen is not cash
    audit_clean(store, t)

    complete(store, t, ref)
    complete(store, t, ref)  # twice changes nothing
    assert [r[3] for r in rows(store, t, ref)] == ["released"] * 3
    assert ok(api.get(shop.path("/wallet"), d_tok))["cash"] == "5.00"
    assert ok(api.get(shop.path("/wallet"), b_tok))["cash"] == "2.00"
    audit_clean(store, t)

    # d withdraws 4.00 of the 5.00; then the order is refunded: 1.00 comes from cash and
    # 4.00 becomes d's debt (never silently capped)
    verify_kyc(api, shop, d)
    held = ok(api.post(shop.path("/withdrawals"), d_tok, json={"amount": "4.00"}), 201)
    refund(store, t, e, ref, 3_000)  # the revenue the order left after its commissions
    assert rows(store, t, ref)[0] == (1, d, 500, "clawed_back", 100, 400)
    assert rows(store, t, ref)[1] == (2, c, 300, "clawed_back", 300, 0)
    wallet = ok(api.get(shop.path("/wallet"), d_tok))
    assert wallet["cash"] == "0.00"
    assert wallet["debt"] == "4.00"
    assert wallet["cash_withdrawing"] == "4.00"
    mine = ok(api.get(shop.path("/referrals/me"), d_tok))
    assert mine["debt"] == "4.00"
    assert mine["commissions"]["clawed_into_debt"] == "4.00"
    assert mine["commissions"]["clawed_back"] == "5.00"
    assert receivables(store, t) == 400
    audit_clean(store, t)

    # the withdrawal is rejected: the held 4.00 returns; a new withdrawal repays the debt first,
    # so nothing is left to withdraw and nothing changes
    ok(
        api.post(
            shop.path(f"/withdrawals/{held['withdrawal_id']}/reject"),
            shop.admin_token,
            json={"reason": "order refunded"},
        )
    )
    assert ok(api.get(shop.path("/wallet"), d_tok))["cash"] == "4.00"
    before = snapshot(store, t)
    refused = api.post(shop.path("/withdrawals"), d_tok, json={"amount": "1.00"})
    assert refused.status_code == 409
    assert "debt" in refused.json()["error"]["message"]
    assert snapshot(store, t) == before

    # d earns 5.00 more; a withdrawal of 5.00 repays the 4.00 debt first and holds 5.00
    ref2 = buy(store, t, e, 10_000)
    complete(store, t, ref2)
    paid = ok(api.post(shop.path("/withdrawals"), d_tok, json={"amount": "5.00"}), 201)
    assert paid["debt_repaid"] == "4.00"
    assert paid["status"] == "pending"
    wallet = ok(api.get(shop.path("/wallet"), d_tok))
    assert wallet["debt"] == "0.00"
    assert wallet["cash"] == "0.00"
    assert receivables(store, t) == 0
    audit_clean(store, t)


def test_a_refund_before_completion_returns_frozen_commissions_without_debt(
    api: Api, shop: TenantFixture, store: Store
) -> None:
    t = shop.tenant_id
    people = chain(api, shop)
    d, e = people[3][0], people[4][0]
    ref = buy(store, t, e, 20_000)
    refund(store, t, e, ref, 1_000)
    assert [(r[0], r[3], r[5]) for r in rows(store, t, ref)] == [
        (1, "clawed_back", None),
        (2, "clawed_back", None),
        (3, "clawed_back", None),
    ]
    complete(store, t, ref)  # nothing left to release
    assert ok(api.get(shop.path("/wallet"), people[3][1]))["cash"] == "0.00"
    assert ok(api.get(shop.path(f"/users/{d}/referrals"), shop.admin_token))["debt"] == "0.00"
    assert receivables(store, t) == 0
    audit_clean(store, t)


def test_tenants_without_commission_rates_pay_none(
    api: Api, tenant: TenantFixture, store: Store
) -> None:
    t = tenant.tenant_id
    _, a_tok = register(api, tenant, "a@shop.test")
    b, _ = register(api, tenant, "b@shop.test", invite_code(api, tenant, a_tok))
    ref = buy(store, t, b, 10_000)
    complete(store, t, ref)
    assert rows(store, t, ref) == []
    assert ok(api.get(tenant.path("/wallet"), a_tok))["cash"] == "0.00"
    audit_clean(store, t)
