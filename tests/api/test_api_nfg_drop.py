"""The drop (首发) over HTTP on SQLite and PostgreSQL: exactly N sold, the per-user limit under
40-way concurrency, expiry returning places, a late payment refunded, stable and equity
payments with balanced journals (the price never falls), bad input refused naming the field
with nothing changed, gateway callbacks replayed changing nothing."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from mall_api import Api, TenantFixture, login, ok
from orders_helpers import (
    audit_clean,
    economy,
    give_stable,
    holder,
    sandbox_pay,
    signed_webhook,
    store_of,
)
from sqlalchemy import update

from tokenmall.adapters.db.nfg.tables import nfg_reservations
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.money import format_money
from tokenmall.domain.nfg.events import collection_created
from tokenmall.domain.nfg.records import Collection, CollectionStatus, PriceAsset
from tokenmall.domain.nfg.rights import Rights
from tokenmall.services.ledger.execute import execute
from tokenmall.services.log.appending import record
from tokenmall.services.mall.ids import new_id

WAYS = 40


def make_collection(
    server: Any,
    t: TenantFixture,
    *,
    edition: int = 3,
    price: int = 5000,
    asset: PriceAsset = PriceAsset.MONEY,
    limit: int = 2,
    starts: datetime | None = None,
    status: CollectionStatus = CollectionStatus.PUBLISHED,
) -> str:
    """A published collection of the tenant's merchant, on sale now (unless ``starts``)."""
    now = datetime.now(UTC)
    collection = Collection(
        tenant_id=t.tenant_id,
        collection_id=new_id("col"),
        name="2020 年份珍藏",
        description="",
        issuer_merchant_id=t.merchant_id,
        edition_size=edition,
        price=price,
        price_asset=asset,
        per_user_limit=limit,
        rights=Rights(),
        status=status,
        created_at=now,
        sale_starts_at=starts or now - timedelta(minutes=1),
    )
    with server.app.state.database.unit() as unit:
        unit.nfg.add_collection(collection)
        record(
            unit.log,
            server.app.state.log_config,
            t.tenant_id,
            [collection_created(collection)],
            now,
        )
    return collection.collection_id


def buyer(api: Api, t: TenantFixture) -> tuple[str, str]:
    """A new consumer of the tenant: (token, user id)."""
    email = f"b{uuid.uuid4().hex[:10]}@shop.test"
    made = ok(
        api.post(
            t.path("/users"),
            t.admin_token,
            json={"email": email, "password": "buyer-password", "role": "consumer"},
        ),
        201,
    )
    return login(api, t.tenant_id, email, "buyer-password"), str(made["user_id"])


def reserve(
    api: Api, t: TenantFixture, collection_id: str, token: str, quantity: int = 1, **extra: Any
) -> httpx.Response:
    path = t.path(f"/nfg/collections/{collection_id}/reservations")
    return api.post(path, token, json={"quantity": quantity, **extra})


def reservation(api: Api, t: TenantFixture, reservation_id: str, token: str) -> Any:
    return ok(api.get(t.path(f"/nfg/reservations/{reservation_id}"), token))


def drop(api: Api, t: TenantFixture, collection_id: str) -> Any:
    return ok(api.get(t.path(f"/nfg/drops/{collection_id}")))


def expire_now(server: Any, t: TenantFixture, reservation_id: str) -> None:
    """Move the reservation's expiry into the past (as if its window had passed)."""
    r = nfg_reservations.c
    with server.app.state.database.transaction() as conn:
        conn.execute(
            update(nfg_reservations)
            .where(r.tenant_id == t.tenant_id, r.reservation_id == reservation_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )


def _all_at_once(base: str, calls: list[Any]) -> list[httpx.Response]:
    def run(call: Any) -> httpx.Response:
        client = Api(base)
        try:
            return call(client)  # type: ignore[no-any-return]
        finally:
            client.http.close()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def _error(answer: httpx.Response) -> dict[str, Any]:
    return dict(answer.json()["error"])


def test_money_drop_sells_exactly_n_in_serial_order(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    col = make_collection(server, tenant, edition=3, limit=1)
    buyers = [buyer(api, tenant) for _ in range(5)]
    answers = [reserve(api, tenant, col, token) for token, _ in buyers]
    assert [a.status_code for a in answers] == [201, 201, 201, 409, 409]
    assert _error(answers[3])["code"] == "sold_out"
    assert _error(answers[3])["field"] == "quantity"
    before = economy(server, tenant)
    for answer, (token, user) in zip(answers[:3], buyers, strict=False):
        made = answer.json()
        assert made["status"] == "reserved"
        assert made["payment_url"]
        assert made["amount"] == "50.00"
        paid = sandbox_pay(api, made["payment_url"])
        assert paid.status_code == 200, paid.text
        found = reservation(api, tenant, made["reservation_id"], token)
        assert found["status"] == "assigned"
        assert found["user_id"] == user
    serials = [
        reservation(api, tenant, a.json()["reservation_id"], t)["serials"]
        for a, (t, _) in zip(answers[:3], buyers, strict=False)
    ]
    assert serials == [[1], [2], [3]]
    assert reservation(api, tenant, answers[0].json()["reservation_id"], buyers[0][0])[
        "tokens"
    ] == [{"token": f"{col}/1", "serial": 1, "display": "#1/3"}]
    figures = drop(api, tenant, col)
    assert figures["minted"] == 3
    assert figures["available"] == 0
    after = economy(server, tenant)
    assert after["revenue"] - before["revenue"] == 3 * 5000
    assert after["escrow"] == before["escrow"]
    audit_clean(server, tenant)


def test_a_replayed_gateway_callback_changes_nothing(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    col = make_collection(server, tenant, edition=2)
    token, _ = buyer(api, tenant)
    made = ok(reserve(api, tenant, col, token), 201)
    ref = made["payment_url"].rsplit("/", 1)[1]
    event = {
        "event_id": f"evt_{uuid.uuid4().hex}",
        "type": "payment.succeeded",
        "payment_ref": ref,
        "amount": made["amount"],
    }
    first = signed_webhook(api, server, event)
    assert first.status_code == 200, first.text
    assert first.json()["reservation_status"] == "assigned"
    figures = economy(server, tenant)
    again = signed_webhook(api, server, event)
    assert again.status_code == 409
    assert _error(again)["code"] == "replayed"
    other = signed_webhook(api, server, {**event, "event_id": f"evt_{uuid.uuid4().hex}"})
    assert other.status_code == 200
    assert other.json()["outcome"] == "reservation already assigned"
    assert economy(server, tenant) == figures
    assert drop(api, tenant, col)["minted"] == 1
    wrong = signed_webhook(api, server, {**event, "event_id": "evt_x1", "amount": "1.00"})
    assert wrong.status_code == 422
    audit_clean(server, tenant)


def test_an_idempotency_key_replays_a_reservation(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    col = make_collection(server, tenant, edition=5)
    path = tenant.path(f"/nfg/collections/{col}/reservations")
    first = api.post(path, tenant.consumer_token, json={"quantity": 1}, key="k-1")
    again = api.post(path, tenant.consumer_token, json={"quantity": 1}, key="k-1")
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotency-Replayed"] == "true"
    assert first.json()["reservation_id"] == again.json()["reservation_id"]
    assert drop(api, tenant, col)["available"] == 4


def test_the_per_user_limit_holds_under_40_way_concurrency(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    col = make_collection(server, tenant, edition=100, limit=2)
    token = tenant.consumer_token
    calls = [lambda a: reserve(a, tenant, col, token) for _ in range(WAYS)]
    answers = _all_at_once(server.base_url, calls)
    codes = sorted(a.status_code for a in answers)
    assert all(code < 500 for code in codes), [a.text for a in answers if a.status_code >= 500]
    assert codes.count(201) == 2
    assert all(_error(a)["code"] == "over_limit" for a in answers if a.status_code == 409)
    assert drop(api, tenant, col)["available"] == 98


def test_concurrent_buyers_never_oversell(api: Api, server: Any, tenant: TenantFixture) -> None:
    col = make_collection(server, tenant, edition=5, limit=1)
    tokens = [buyer(api, tenant)[0] for _ in range(12)]
    answers = _all_at_once(
        server.base_url, [lambda a, tok=tok: reserve(a, tenant, col, tok) for tok in tokens]
    )
    assert all(a.status_code < 500 for a in answers)
    assert sum(a.status_code == 201 for a in answers) == 5
    assert drop(api, tenant, col)["available"] == 0


def test_an_expired_reservation_returns_its_places(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    col = make_collection(server, tenant, edition=1)
    first, _ = buyer(api, tenant)
    second, _ = buyer(api, tenant)
    made = ok(reserve(api, tenant, col, first), 201)
    assert reserve(api, tenant, col, second).status_code == 409
    expire_now(server, tenant, made["reservation_id"])
    assert ok(reserve(api, tenant, col, second), 201)["status"] == "reserved"
    assert reservation(api, tenant, made["reservation_id"], first)["status"] == "expired"
    # The scheduler's tick finds nothing left to do for it.
    ticked = ok(api.post(tenant.path("/nfg/reservations/expire-due"), tenant.admin_token))
    assert ticked == {"expired": 0}


def test_the_scheduler_tick_expires_due_reservations(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    col = make_collection(server, tenant, edition=2)
    made = ok(reserve(api, tenant, col, tenant.consumer_token), 201)
    expire_now(server, tenant, made["reservation_id"])
    ticked = ok(api.post(tenant.path("/nfg/reservations/expire-due"), tenant.admin_token))
    assert ticked == {"expired": 1}
    assert drop(api, tenant, col)["available"] == 2
    refused = api.post(tenant.path("/nfg/reservations/expire-due"), tenant.consumer_token)
    assert refused.status_code == 403


def test_a_payment_after_expiry_is_refunded(api: Api, server: Any, tenant: TenantFixture) -> None:
    col = make_collection(server, tenant, edition=1)
    late, _ = buyer(api, tenant)
    quick, _ = buyer(api, tenant)
    made = ok(reserve(api, tenant, col, late), 201)
    expire_now(server, tenant, made["reservation_id"])
    other = ok(reserve(api, tenant, col, quick), 201)
    assert sandbox_pay(api, other["payment_url"]).status_code == 200
    before = economy(server, tenant)
    paid = sandbox_pay(api, made["payment_url"])
    assert paid.status_code == 200, paid.text
    found = reservation(api, tenant, made["reservation_id"], late)
    assert found["status"] == "refunded"
    assert found["serials"] == []
    assert found["payment_status"] == "refunded"
    after = economy(server, tenant)
    assert after["escrow"] == before["escrow"]
    assert after["money_in"] == before["money_in"]
    assert after["journals"] == before["journals"] + 2
    assert drop(api, tenant, col)["minted"] == 1
    # The gateway's page no longer takes money for it.
    assert api.http.get(made["payment_url"]).text.count('name="outcome"') == 0
    audit_clean(server, tenant)


def test_stable_points_pay_the_issuer(api: Api, server: Any, tenant: TenantFixture) -> None:
    col = make_collection(server, tenant, asset=PriceAsset.STABLE, price=1000, edition=4)
    token, user = buyer(api, tenant)
    give_stable(server, tenant, user, 10_000)
    stable = holder(server, tenant, user)["stable"]
    made = ok(reserve(api, tenant, col, token, 2, pay_with="stable"), 201)
    assert made["payment_url"] is None
    assert made["amount"] == "20.00"
    path = tenant.path(f"/nfg/reservations/{made['reservation_id']}/pay")
    paid = ok(api.post(path, token))
    assert paid["status"] == "assigned"
    assert paid["serials"] == [1, 2]
    assert holder(server, tenant, user)["stable"] == stable - 2000
    assert holder(server, tenant, tenant.merchant_id)["stable"] == 2000
    again = ok(api.post(path, token))
    assert again["serials"] == [1, 2]
    assert holder(server, tenant, user)["stable"] == stable - 2000
    audit_clean(server, tenant)


def test_equity_points_are_bought_back_for_the_issuer(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    token, user = buyer(api, tenant)
    execute(
        store_of(server),
        c.Purchase(tenant_id=tenant.tenant_id, idempotency_key="eq1", user=user, amount_fen=90_000),
    )
    points = int(holder(server, tenant, user)["points"])
    price = points // 4
    col = make_collection(server, tenant, asset=PriceAsset.EQUITY, price=price, edition=4)
    store = store_of(server)
    with store.read() as conn:
        state, _ = store.load_state(conn, tenant.tenant_id)
    price_before = Decimal(state.price()[0]) / state.price()[1]
    made = ok(reserve(api, tenant, col, token, 2, pay_with="equity"), 201)
    paid = ok(api.post(tenant.path(f"/nfg/reservations/{made['reservation_id']}/pay"), token))
    assert paid["status"] == "assigned"
    assert paid["serials"] == [1, 2]
    assert holder(server, tenant, user)["points"] == points - 2 * price
    assert holder(server, tenant, user)["cash"] == 0
    assert holder(server, tenant, tenant.merchant_id)["cash"] > 0
    with store.read() as conn:
        state, _ = store.load_state(conn, tenant.tenant_id)
    assert Decimal(state.price()[0]) / state.price()[1] >= price_before
    audit_clean(server, tenant)


def test_too_few_points_change_nothing(api: Api, server: Any, tenant: TenantFixture) -> None:
    col = make_collection(server, tenant, asset=PriceAsset.STABLE, price=1000, edition=4)
    token, _ = buyer(api, tenant)
    made = ok(reserve(api, tenant, col, token, 1), 201)
    refused = api.post(tenant.path(f"/nfg/reservations/{made['reservation_id']}/pay"), token)
    assert 400 <= refused.status_code < 500
    assert reservation(api, tenant, made["reservation_id"], token)["status"] == "reserved"
    assert drop(api, tenant, col)["minted"] == 0


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"quantity": 0}, 422, "quantity"),
        ({"quantity": -1}, 422, "quantity"),
        ({"quantity": 3}, 422, "quantity"),
        ({"quantity": "two"}, 422, "quantity"),
        ({"quantity": 1, "pay_with": "stable"}, 422, "pay_with"),
        ({"quantity": 1, "pay_with": "gold"}, 422, "pay_with"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(
    api: Api, server: Any, tenant: TenantFixture, body: dict[str, Any], status: int, field: str
) -> None:
    col = make_collection(server, tenant, edition=3, limit=2)
    answer = api.post(
        tenant.path(f"/nfg/collections/{col}/reservations"), tenant.consumer_token, json=body
    )
    assert answer.status_code == status, answer.text
    assert field in str(answer.json()["error"]), answer.text
    assert drop(api, tenant, col)["available"] == 3


def test_not_on_sale_over_limit_and_sold_out_are_refused(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    later = make_collection(server, tenant, starts=datetime.now(UTC) + timedelta(hours=1))
    refused = reserve(api, tenant, later, tenant.consumer_token)
    assert refused.status_code == 409
    assert _error(refused)["code"] == "not_on_sale"
    assert _error(refused)["field"] == "collection_id"
    draft = make_collection(server, tenant, status=CollectionStatus.DRAFT)
    assert reserve(api, tenant, draft, tenant.consumer_token).status_code == 409
    col = make_collection(server, tenant, edition=3, limit=2)
    ok(reserve(api, tenant, col, tenant.consumer_token, 2), 201)
    over = reserve(api, tenant, col, tenant.consumer_token)
    assert over.status_code == 409
    assert _error(over)["code"] == "over_limit"
    assert _error(over)["field"] == "quantity"
    other, _ = buyer(api, tenant)
    sold = reserve(api, tenant, col, other, 2)
    assert sold.status_code == 409
    assert _error(sold)["code"] == "sold_out"
    assert drop(api, tenant, col)["available"] == 1
    merchant = reserve(api, tenant, col, tenant.merchant_token)
    assert merchant.status_code == 403
    missing = reserve(api, tenant, "col_missing", tenant.consumer_token)
    assert missing.status_code == 404
    assert format_money(0) == "0.00"
