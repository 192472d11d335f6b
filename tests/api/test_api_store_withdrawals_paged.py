"""A store's withdrawals, paged (``GET /withdrawals?merchant_id=``), over real HTTP on SQLite and
PostgreSQL: seven withdrawals of the store's cash come back three to a page in one stable id
order, the cursor of the last page is null, and the owner's own withdrawal is never among
them; an admin sees the same pages, another member's asking is answered 404; a bad page
parameter is a 422 naming it and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from mall_api import Api, TenantFixture, ok
from market_money_kit import fund, money, store_of
from wallet_helpers import snapshot, verify_kyc

WITHDRAW = "/withdrawals"
STORE_WITHDRAWALS = 7


def _store_withdrawals(api: Api, server: Any, t: TenantFixture) -> list[str]:
    verify_kyc(api, t, t.merchant_user_id)
    fund(server, t, t.merchant_id, 100_000)
    fund(server, t, t.merchant_user_id, 10_000)
    made = []
    for n in range(STORE_WITHDRAWALS):
        body = {"amount": f"{n + 1}.00", "merchant_id": t.merchant_id}
        asked = ok(api.post(t.path(WITHDRAW), t.merchant_token, json=body, key=f"sw-{n}"), 201)
        made.append(asked["withdrawal_id"])
    own = {"amount": "2.00"}
    ok(api.post(t.path(WITHDRAW), t.merchant_token, json=own, key="own"), 201)
    return made


def _pages(api: Api, t: TenantFixture, token: str) -> list[list[str]]:
    pages: list[list[str]] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"merchant_id": t.merchant_id, "limit": 3}
        if after is not None:
            params["after"] = after
        body = ok(api.get(t.path(WITHDRAW), token, params=params))
        pages.append([w["withdrawal_id"] for w in body["items"]])
        assert all(w["merchant_id"] == t.merchant_id for w in body["items"])
        after = body["next_after"]
        if after is None:
            return pages


def test_a_stores_withdrawals_come_three_to_a_page_in_a_stable_order(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    made = _store_withdrawals(api, server, t)
    pages = _pages(api, t, t.merchant_token)
    assert [len(p) for p in pages] == [3, 3, 1]
    flat = [w for p in pages for w in p]
    assert flat == sorted(made)
    assert _pages(api, t, t.merchant_token) == pages  # stable
    assert _pages(api, t, t.admin_token) == pages
    everything = ok(api.get(t.path(WITHDRAW), t.merchant_token, params={"limit": 200}))
    assert len(everything["items"]) == STORE_WITHDRAWALS + 1  # the owner's own one too
    assert money(server, t, t.merchant_id)[t.merchant_id] == 100_000 - 2_800


def test_another_members_asking_for_a_stores_withdrawals_is_answered_404(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    _store_withdrawals(api, server, t)
    params = {"merchant_id": t.merchant_id}
    answer = api.get(t.path(WITHDRAW), t.consumer_token, params=params)
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"]["field"] == "merchant_id"
    unknown = api.get(t.path(WITHDRAW), t.admin_token, params={"merchant_id": "mch_nobody"})
    assert unknown.status_code == 404, unknown.text


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "three"}, "limit"),
        ({"after": "x" * 41}, "after"),
        ({"after": "wdr_<script>"}, "after"),
        ({"after": "wdr 1"}, "after"),
    ],
)
def test_a_bad_page_parameter_is_a_422_naming_it_and_changes_nothing(
    api: Api, server: Any, tenant: TenantFixture, params: dict[str, Any], field: str
) -> None:
    t = tenant
    _store_withdrawals(api, server, t)
    db = store_of(server)
    before = snapshot(db, t.tenant_id)
    answer = api.get(
        t.path(WITHDRAW), t.merchant_token, params={"merchant_id": t.merchant_id, **params}
    )
    assert answer.status_code == 422, answer.text
    assert field in (answer.json()["error"]["field"] or ""), answer.text
    assert snapshot(db, t.tenant_id) == before


def test_the_listing_is_documented_with_its_paging_in_the_openapi(api: Api) -> None:
    spec = ok(api.get("/openapi.json"))
    (path,) = [p for p in spec["paths"] if p.endswith("/withdrawals") and "get" in spec["paths"][p]]
    operation = spec["paths"][path]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"merchant_id", "after", "limit"} <= names
    assert "next_after" in operation["description"]
