"""Real-name verification over real HTTP (SQLite and PostgreSQL): a consumer submits, an
admin reviews the queue, the consumer then withdraws; bad input is a 4xx naming the field and
changes nothing; replays answer the first call; the stored row never holds the plain number."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from mall_api import Api, TenantFixture, ok
from sqlalchemy import select
from wallet_helpers import buy, register, store_of

from tokenmall.adapters.db.mall.access import audit_trail
from tokenmall.adapters.db.mall.kyc import kyc_submissions
from tokenmall.adapters.db.mall.tables import idempotency, users
from tokenmall.adapters.db.store import Store
from tokenmall.services.mall.idempotency import request_hash

ID = "11010519491231002X"
OTHER_ID = "330106199203154327"
GOOD = {"real_name": "张三", "id_number": ID, "phone": "13800138001"}


@pytest.fixture
def store(server: Any) -> Store:
    return store_of(server)


def snapshot(store: Store, tenant_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """The tenant's users, real-name submissions and audit trail."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with store.read() as conn:
        for table in (users, kyc_submissions, audit_trail):
            key = list(table.primary_key.columns)
            rows = conn.execute(
                select(table).where(table.c.tenant_id == tenant_id).order_by(*key)
            ).all()
            out[table.name] = [tuple(r) for r in rows]
    return out


def submit(api: Api, tenant: TenantFixture, body: Any = None, token: str | None = None) -> Any:
    return api.post(tenant.path("/me/kyc"), token or tenant.consumer_token, json=body or GOOD)


def test_submit_review_then_withdraw(api: Api, tenant: TenantFixture, store: Store) -> None:
    mine = ok(api.get(tenant.path("/me/kyc"), tenant.consumer_token))
    assert mine == {
        "kyc_status": "none",
        "requires_kyc": True,
        "may_submit": True,
        "submission": None,
    }
    buy(store, tenant.tenant_id, tenant.consumer_id, 20_000)
    wallet = ok(api.get(tenant.path("/wallet"), tenant.consumer_token))
    ok(
        api.post(
            tenant.path("/wallet/sell"), tenant.consumer_token, json={"points": wallet["points"]}
        )
    )
    refused = api.post(tenant.path("/withdrawals"), tenant.consumer_token, json={"amount": "1.00"})
    assert refused.status_code == 403
    assert refused.json()["error"]["field"] == "kyc_status"

    made = ok(submit(api, tenant), 201)
    assert made["status"] == "pending"
    assert (made["name_masked"], made["id_masked"], made["phone_masked"]) == (
        "张*",
        "1101**********002X",
        "138****8001",
    )
    assert ID not in str(made)
    assert "张三" not in str(made)
    mine = ok(api.get(tenant.path("/me/kyc"), tenant.consumer_token))
    assert (mine["kyc_status"], mine["may_submit"]) == ("pending", False)
    assert mine["submission"] == made

    queue = ok(api.get(tenant.path("/kyc-submissions?status=pending"), tenant.admin_token))
    assert [s["submission_id"] for s in queue["items"]] == [made["submission_id"]]
    assert api.get(tenant.path("/kyc-submissions"), tenant.consumer_token).status_code == 403
    one = ok(api.get(tenant.path(f"/kyc-submissions/{made['submission_id']}"), tenant.admin_token))
    assert one == made

    path = tenant.path(f"/kyc-submissions/{made['submission_id']}/approve")
    assert api.post(path, tenant.consumer_token).status_code == 403
    done = ok(api.post(path, tenant.admin_token, key="approve-once"))
    assert (done["status"], done["reviewed_by"]) == ("verified", tenant.admin_id)
    again = ok(api.post(path, tenant.admin_token, key="approve-once"))
    assert again == done  # a replay answers the first call
    second = api.post(path, tenant.admin_token)
    assert second.status_code == 409
    assert second.json()["error"]["field"] == "submission_id"
    me = ok(api.get(tenant.path("/me"), tenant.consumer_token))
    assert me["kyc_status"] == "verified"
    ok(api.post(tenant.path("/withdrawals"), tenant.consumer_token, json={"amount": "1.00"}), 201)

    with store.read() as conn:
        trail = conn.execute(
            select(audit_trail.c.action, audit_trail.c.actor_id, audit_trail.c.subject_id)
            .where(
                audit_trail.c.tenant_id == tenant.tenant_id,
                audit_trail.c.action == "user.kyc",
            )
            .order_by(audit_trail.c.at, audit_trail.c.entry_id)
        ).all()
    assert [tuple(r) for r in trail] == [
        ("user.kyc", tenant.consumer_id, tenant.consumer_id),
        ("user.kyc", tenant.admin_id, tenant.consumer_id),
    ]


def test_the_stored_row_holds_only_masks_and_the_sealed_values(
    api: Api, tenant: TenantFixture, store: Store
) -> None:
    made = ok(submit(api, tenant), 201)
    with store.read() as conn:
        row = conn.execute(
            select(kyc_submissions).where(
                kyc_submissions.c.tenant_id == tenant.tenant_id,
                kyc_submissions.c.submission_id == made["submission_id"],
            )
        ).one()
    sealed = bytes(row.sealed)
    for plain in (ID, ID[:-1], "张三", "13800138001"):
        assert plain.encode() not in sealed
        for value in row:
            assert not isinstance(value, str) or plain not in value
    assert row.id_masked == "1101**********002X"
    # the idempotency store keeps the masked answer and a hash of keyed digests, never a hash
    # of the plain values (a dictionary of identity numbers would find those)
    plain_hash = request_hash("POST", tenant.path("/me/kyc"), GOOD)
    with store.read() as conn:
        stored = conn.execute(
            select(idempotency).where(idempotency.c.tenant_id == tenant.tenant_id)
        ).all()
    assert stored
    for answer in stored:
        assert answer.request_hash != plain_hash
        assert ID not in answer.response_body
        assert "张三" not in answer.response_body


def test_a_rejection_shows_its_reason_and_a_new_submission_follows(
    api: Api, tenant: TenantFixture
) -> None:
    made = ok(submit(api, tenant), 201)
    path = tenant.path(f"/kyc-submissions/{made['submission_id']}/reject")
    missing = api.post(path, tenant.admin_token, json={"reason": "  "})
    assert missing.status_code == 422
    assert missing.json()["error"]["field"] == "reason"
    done = ok(api.post(path, tenant.admin_token, json={"reason": "照片与本人不符"}))
    assert (done["status"], done["reason"]) == ("rejected", "照片与本人不符")
    mine = ok(api.get(tenant.path("/me/kyc"), tenant.consumer_token))
    assert (mine["kyc_status"], mine["may_submit"]) == ("rejected", True)
    assert mine["submission"]["reason"] == "照片与本人不符"
    again = ok(submit(api, tenant, {"real_name": "张 三", "id_number": ID.lower()}), 201)
    assert (again["name_masked"], again["phone_masked"]) == ("张 *", None)
    rejected = ok(api.get(tenant.path("/kyc-submissions?status=rejected"), tenant.admin_token))
    assert [s["submission_id"] for s in rejected["items"]] == [made["submission_id"]]


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"id_number": ID}, "real_name", 422),
        ({"real_name": "", "id_number": ID}, "real_name", 422),
        ({"real_name": "张\u0007三", "id_number": ID}, "real_name", 422),
        ({"real_name": "张" * 51, "id_number": ID}, "real_name", 422),
        ({"real_name": "张" * 201, "id_number": ID}, "real_name", 422),
        ({"real_name": "张三", "id_number": "110105194912310021"}, "id_number", 422),
        ({"real_name": "张三", "id_number": "1101051949123100"}, "id_number", 422),
        ({"real_name": "张三", "id_number": "110105209912310021"}, "id_number", 422),
        ({"real_name": "张三"}, "id_number", 422),
        ({"real_name": "张三", "id_number": 110105194912310021}, "id_number", 422),
        ({"real_name": "张三", "id_number": ID, "phone": "12"}, "phone", 422),
        ({**GOOD, "extra": 1}, "extra", 422),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field_and_changes_nothing(
    api: Api, tenant: TenantFixture, store: Store, body: Any, field: str, status: int
) -> None:
    before = snapshot(store, tenant.tenant_id)
    answer = submit(api, tenant, body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["field"] == field
    assert snapshot(store, tenant.tenant_id) == before


def test_submitting_while_pending_or_verified_is_a_409_and_changes_nothing(
    api: Api, tenant: TenantFixture, store: Store
) -> None:
    made = ok(submit(api, tenant), 201)
    for _ in ("pending", "verified"):
        before = snapshot(store, tenant.tenant_id)
        answer = submit(api, tenant, {"real_name": "李四", "id_number": OTHER_ID})
        assert answer.status_code == 409
        assert answer.json()["error"]["field"] == "kyc_status"
        assert snapshot(store, tenant.tenant_id) == before
        path = tenant.path(f"/kyc-submissions/{made['submission_id']}/approve")
        if api.get(tenant.path("/me/kyc"), tenant.consumer_token).json()["kyc_status"] == "pending":
            ok(api.post(path, tenant.admin_token))


def test_only_consumers_submit_and_one_number_verifies_one_member(
    api: Api, tenant: TenantFixture, store: Store
) -> None:
    before = snapshot(store, tenant.tenant_id)
    assert submit(api, tenant, token=tenant.merchant_token).status_code == 403
    assert submit(api, tenant, token=tenant.admin_token).status_code == 403
    assert api.post(tenant.path("/me/kyc"), None, json=GOOD).status_code == 401
    assert (
        api.post(tenant.path("/me/kyc"), tenant.consumer_token, json=GOOD, key=None).status_code
        == 400
    )
    assert snapshot(store, tenant.tenant_id) == before
    ok(submit(api, tenant), 201)
    _, token = register(api, tenant, "second@shop.test")
    before = snapshot(store, tenant.tenant_id)
    taken = submit(api, tenant, token=token)
    assert taken.status_code == 409
    assert taken.json()["error"]["field"] == "id_number"
    assert snapshot(store, tenant.tenant_id) == before


def test_another_tenants_submission_is_not_found(
    api: Api, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    made = ok(submit(api, tenant), 201)
    path = f"/kyc-submissions/{made['submission_id']}"
    assert api.get(other_tenant.path(path), other_tenant.admin_token).status_code == 404
    answer = api.post(other_tenant.path(path + "/approve"), other_tenant.admin_token)
    assert answer.status_code == 404
    listed = ok(api.get(other_tenant.path("/kyc-submissions"), other_tenant.admin_token))
    assert listed["items"] == []


def test_racing_submissions_and_reviews_each_win_once(
    api: Api, tenant: TenantFixture, server_base: str
) -> None:
    clients = [Api(server_base) for _ in range(6)]
    try:
        with ThreadPoolExecutor(len(clients)) as pool:
            answers = list(pool.map(lambda c: submit(c, tenant), clients))
        codes = sorted(a.status_code for a in answers)
        assert codes == [201] + [409] * (len(clients) - 1), [a.text for a in answers]
        listed = ok(api.get(tenant.path("/kyc-submissions"), tenant.admin_token))
        (made,) = listed["items"]
        path = tenant.path(f"/kyc-submissions/{made['submission_id']}/approve")
        with ThreadPoolExecutor(len(clients)) as pool:
            answers = list(pool.map(lambda c: c.post(path, tenant.admin_token), clients))
        codes = sorted(a.status_code for a in answers)
        assert codes == [200] + [409] * (len(clients) - 1), [a.text for a in answers]
    finally:
        for client in clients:
            client.http.close()
    me = ok(api.get(tenant.path("/me/kyc"), tenant.consumer_token))
    assert me["kyc_status"] == "verified"
