"""A consumer's address book over HTTP (SQLite and PostgreSQL): CRUD and the default's rules,
the limit, other users' and tenants' addresses invisible and unchanged, bad input refused with
nothing changed, and checkout's snapshot of the address on its orders, which later edits and
deletions of the address never change."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from mall_api import Api, TenantFixture, login, ok
from orders_helpers import add_to_cart, checkout, economy, second_merchant

HOME = {
    "recipient": "张三",
    "phone": "13800138000",
    "region": "浙江省 杭州市 西湖区",
    "detail": "文三路 100 号 2 幢 301 室",
    "postal_code": "310000",
}
OFFICE = {
    "recipient": "李四",
    "phone": "0571-88886666",
    "region": "浙江省 杭州市 滨江区",
    "detail": "网商路 699 号",
}


def _add(api: Api, t: TenantFixture, body: dict[str, Any], token: str | None = None) -> Any:
    return ok(api.post(t.path("/me/addresses"), token or t.consumer_token, json=body), 201)


def _book(api: Api, t: TenantFixture, token: str | None = None) -> list[dict[str, Any]]:
    return list(ok(api.get(t.path("/me/addresses"), token or t.consumer_token))["items"])


def _default_ids(book: list[dict[str, Any]]) -> list[str]:
    return [a["address_id"] for a in book if a["is_default"]]


def _consumer(api: Api, t: TenantFixture, name: str) -> str:
    email = f"{name}@shop.test"
    ok(api.post(t.path("/register"), json={"email": email, "password": "pass-word-1"}), 201)
    return login(api, t.tenant_id, email, "pass-word-1")


def test_add_list_change_and_delete_with_the_default_rules(api: Api, tenant: TenantFixture) -> None:
    t = tenant
    assert _book(api, t) == []
    home = _add(api, t, HOME)
    assert home["is_default"] is True  # the first address is the default
    assert home["phone"] == "13800138000"
    assert home["postal_code"] == "310000"
    office = _add(api, t, OFFICE)
    assert office["is_default"] is False
    assert office["postal_code"] is None
    book = _book(api, t)
    assert [a["address_id"] for a in book] == [home["address_id"], office["address_id"]]
    assert ok(api.get(t.path(f"/me/addresses/{office['address_id']}"), t.consumer_token)) == office

    # A new address may ask to be the default: exactly one default stays.
    third = _add(api, t, {**OFFICE, "recipient": "王五", "is_default": True})
    book = _book(api, t)
    assert _default_ids(book) == [third["address_id"]]
    assert book[0] == third

    # Set the default explicitly.
    chosen = ok(api.post(t.path(f"/me/addresses/{home['address_id']}/default"), t.consumer_token))
    assert chosen["is_default"] is True
    assert _default_ids(_book(api, t)) == [home["address_id"]]

    # Change fields; omitted fields stay; "" clears the postal code.
    changed = ok(
        api.patch(
            t.path(f"/me/addresses/{home['address_id']}"),
            t.consumer_token,
            json={"detail": "  文三路 200 号  ", "phone": "138 0013 8001", "postal_code": ""},
        )
    )
    assert changed["detail"] == "文三路 200 号"
    assert changed["phone"] == "13800138001"
    assert changed["postal_code"] is None
    assert changed["recipient"] == "张三"
    assert changed["is_default"] is True
    assert changed["created_at"] == home["created_at"]

    # Deleting a non-default leaves the default; deleting the default makes the newest default.
    left = ok(api.call("DELETE", t.path(f"/me/addresses/{office['address_id']}"), t.consumer_token))
    assert [a["address_id"] for a in left["items"]] == [home["address_id"], third["address_id"]]
    newest = _add(api, t, {**OFFICE, "recipient": "赵六"})
    left = ok(api.call("DELETE", t.path(f"/me/addresses/{home['address_id']}"), t.consumer_token))
    assert _default_ids(left["items"]) == [newest["address_id"]]
    assert {a["address_id"] for a in left["items"]} == {newest["address_id"], third["address_id"]}
    gone = api.get(t.path(f"/me/addresses/{home['address_id']}"), t.consumer_token)
    assert gone.status_code == 404
    for a in list(left["items"]):
        ok(api.call("DELETE", t.path(f"/me/addresses/{a['address_id']}"), t.consumer_token))
    assert _book(api, t) == []
    # After emptying the book, the next address is the default again.
    assert _add(api, t, OFFICE)["is_default"] is True


def test_at_most_twenty_addresses_and_a_replay_adds_nothing(
    api: Api, tenant: TenantFixture
) -> None:
    t = tenant
    key = uuid.uuid4().hex
    first = api.post(t.path("/me/addresses"), t.consumer_token, json=HOME, key=key)
    again = api.post(t.path("/me/addresses"), t.consumer_token, json=HOME, key=key)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotency-Replayed") == "true"
    assert again.json() == first.json()
    other = api.post(t.path("/me/addresses"), t.consumer_token, json=OFFICE, key=key)
    assert other.status_code == 409  # the same key for another request
    assert len(_book(api, t)) == 1
    for n in range(19):
        _add(api, t, {**OFFICE, "recipient": f"收件人{n}"})
    before = _book(api, t)
    assert len(before) == 20
    refused = api.post(t.path("/me/addresses"), t.consumer_token, json=OFFICE)
    assert refused.status_code == 409, refused.text
    assert "at most 20" in refused.json()["error"]["message"]
    assert _book(api, t) == before


def test_roles_and_other_users_and_tenants_see_nothing(
    api: Api, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    t, b = tenant, other_tenant
    mine = _add(api, t, HOME)
    eve = _consumer(api, t, "eve")
    _add(api, t, OFFICE, token=eve)
    before = _book(api, t)
    aid = mine["address_id"]
    base_a = t.path("/me/addresses")
    base_b = b.path("/me/addresses")
    # Merchants and admins have no address book here (deny by default).
    for token in (t.merchant_token, t.admin_token):
        assert api.get(base_a, token).status_code == 403
        assert api.post(base_a, token, json=HOME).status_code == 403
        assert api.get(f"{base_a}/{aid}", token).status_code == 403
    assert api.get(base_a).status_code == 401
    # Another consumer of the same tenant: the id is unknown to them, for every call.
    assert [a["address_id"] for a in _book(api, t, eve)] != [aid]
    calls: list[tuple[str, str, str, Any]] = [
        (eve, "GET", f"{base_a}/{aid}", None),
        (eve, "PATCH", f"{base_a}/{aid}", {"recipient": "Eve"}),
        (eve, "DELETE", f"{base_a}/{aid}", None),
        (eve, "POST", f"{base_a}/{aid}/default", None),
        # Another tenant's consumer: 404 under this tenant's path, and the id unknown in theirs.
        (b.consumer_token, "GET", base_a, None),
        (b.consumer_token, "POST", base_a, HOME),
        (b.consumer_token, "GET", f"{base_a}/{aid}", None),
        (b.consumer_token, "PATCH", f"{base_a}/{aid}", {"recipient": "B"}),
        (b.consumer_token, "GET", f"{base_b}/{aid}", None),
        (b.consumer_token, "PATCH", f"{base_b}/{aid}", {"recipient": "B"}),
        (b.consumer_token, "DELETE", f"{base_b}/{aid}", None),
        (b.consumer_token, "POST", f"{base_b}/{aid}/default", None),
    ]
    for token, method, path, body in calls:
        answer = api.call(method, path, token, body)
        assert answer.status_code == 404, (method, path, answer.text)
    # Nor can they ship to it: checkout with someone else's address is a 404, nothing made.
    add_to_cart(api, t, quantity=1)
    stock = ok(api.get(t.path(f"/skus/{t.sku_id}"), t.admin_token))["stock"]
    ok(api.post(t.path("/cart/lines"), eve, json={"sku_id": t.sku_id, "quantity": 1}))
    refused = api.post(t.path("/checkout"), eve, json={"address_id": aid})
    assert refused.status_code == 404, refused.text
    assert refused.json()["error"]["field"] == "address_id"
    bb = b.path("/checkout")
    ok(api.post(b.path("/cart/lines"), b.consumer_token, json={"sku_id": b.sku_id, "quantity": 1}))
    assert api.post(bb, b.consumer_token, json={"address_id": aid}).status_code == 404
    assert ok(api.get(t.path("/orders"), eve))["items"] == []
    assert ok(api.get(b.path("/orders"), b.consumer_token))["items"] == []
    assert ok(api.get(t.path(f"/skus/{t.sku_id}"), t.admin_token))["stock"] == stock
    assert _book(api, t) == before
    assert _book(api, b, b.consumer_token) == []


LONG = "x" * 201
TEXT_BAD: list[Any] = ["", "   ", LONG, 123, 1.5, None, True, ["a"], {"a": 1}, "a\x00b"]
PHONE_BAD: list[Any] = [
    "",
    "12345",
    "12800138000",  # a mobile number starts 13-19
    "1380013800",
    "138001380000",
    "+8613800138000",
    "１３８００１３８０００",  # full-width digits
    "0571--88886666",
    "abc-defg",
    13800138000,
    1.38e10,
    "9" * 30,
]
POSTAL_BAD: list[Any] = [
    "31000",
    "3100000",
    "abcdef",
    310000,
    310000.0,
    10**30,
    True,
    "３１００００",
]


def _create_cases() -> list[tuple[str, Any]]:
    cases: list[tuple[str, Any]] = []
    for name in ("recipient", "region", "detail"):
        cases += [(name, v) for v in TEXT_BAD]
    cases += [("phone", v) for v in PHONE_BAD]
    cases += [("postal_code", v) for v in POSTAL_BAD]
    cases += [("is_default", v) for v in ("true", 1, None, 1.0)]
    cases += [("unknown", "x"), ("address_id", "adr_x"), ("user_id", "usr_x")]
    return cases


def _snapshot(api: Api, t: TenantFixture, server: Any) -> object:
    orders = ok(api.get(t.path("/orders?limit=200"), t.admin_token))["items"]
    return (
        _book(api, t),
        orders,
        ok(api.get(t.path("/cart"), t.consumer_token)),
        ok(api.get(t.path(f"/skus/{t.sku_id}"), t.admin_token)),
        economy(server, t),
    )


def test_bad_input_on_every_write_is_refused_and_changes_nothing(
    api: Api, tenant: TenantFixture, server: Any
) -> None:
    t = tenant
    home = _add(api, t, HOME)
    add_to_cart(api, t, quantity=1)
    before = _snapshot(api, t, server)
    base = t.path("/me/addresses")
    aid = home["address_id"]
    sent: list[tuple[str, str, Any]] = []
    for name, value in _create_cases():
        sent.append(("POST", base, {**OFFICE, name: value}))
        if name not in ("is_default", "address_id", "user_id") and not (
            name == "postal_code" and value is None
        ):
            sent.append(("PATCH", f"{base}/{aid}", {name: value}))
    for name in ("recipient", "phone", "region", "detail"):
        sent.append(("POST", base, {k: v for k, v in OFFICE.items() if k != name}))
    sent += [
        ("POST", base, {}),
        ("POST", base, [OFFICE]),
        ("POST", base, "not an object"),
        ("PATCH", f"{base}/{aid}", {}),  # nothing to change
        ("PATCH", f"{base}/{aid}", {"is_default": True}),  # not a field of the update
        ("PATCH", f"{base}/{aid}", {"recipient": None, "phone": None}),
        ("PATCH", f"{base}/adr_nope", {"recipient": "x"}),
        ("PATCH", f"{base}/{'a' * 41}", {"recipient": "x"}),
        ("DELETE", f"{base}/adr_nope", None),
        ("POST", f"{base}/adr_nope/default", None),
        ("POST", t.path("/checkout"), {"address_id": ""}),
        ("POST", t.path("/checkout"), {"address_id": "   "}),
        ("POST", t.path("/checkout"), {"address_id": "adr_nope"}),
        ("POST", t.path("/checkout"), {"address_id": "a" * 41}),
        ("POST", t.path("/checkout"), {"address_id": 12}),
        ("POST", t.path("/checkout"), {"address_id": 1.5}),
        ("POST", t.path("/checkout"), {"address_id": 10**30}),
        ("POST", t.path("/checkout"), {"address_id": [aid]}),
        ("POST", t.path("/checkout"), {"address": aid}),
    ]
    for method, path, body in sent:
        answer = api.call(method, path, t.consumer_token, body)
        assert 400 <= answer.status_code < 500, (method, path, body, answer.text)
        assert answer.status_code != 401
        error = answer.json()["error"]
        assert error["message"], (method, path, body)
        assert "Traceback" not in answer.text
    assert len(sent) > 100
    # A raw body that is not JSON, and a missing Idempotency-Key.
    raw = api.http.post(
        base,
        content=b"{not json",
        headers={
            "Authorization": f"Bearer {t.consumer_token}",
            "Idempotency-Key": uuid.uuid4().hex,
            "Content-Type": "application/json",
        },
    )
    assert 400 <= raw.status_code < 500
    assert api.post(base, t.consumer_token, json=OFFICE, key=None).status_code == 400
    assert _snapshot(api, t, server) == before


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("phone", "12800138000", "must be a mobile number"),
        ("recipient", "   ", "recipient must not be empty"),
        ("postal_code", "3100", "postal_code must be 6 digits"),
        ("region", "a\x01b", "control characters"),
    ],
)
def test_refusals_name_the_field_with_a_clear_message(
    api: Api, tenant: TenantFixture, name: str, value: str, message: str
) -> None:
    answer = api.post(
        tenant.path("/me/addresses"), tenant.consumer_token, json={**HOME, name: value}
    )
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["field"] == name
    assert message in error["message"]


def test_checkout_keeps_a_snapshot_that_later_edits_do_not_change(
    api: Api, tenant: TenantFixture
) -> None:
    t = tenant
    # No address at all: the API still checks out, and the order carries none.
    bare = checkout(api, t, [(t.sku_id, 1)])["orders"][0]
    assert bare["shipping_address"] is None
    home = _add(api, t, HOME)
    office = _add(api, t, OFFICE)
    _, tea = second_merchant(api, t)

    # The address given: both orders of a two-shop checkout carry it.
    done = checkout(api, t, [(t.sku_id, 1), (tea, 1)], address_id=office["address_id"])
    assert len(done["orders"]) == 2
    expected = {
        "recipient": "李四",
        "phone": "0571-88886666",
        "address": "浙江省 杭州市 滨江区 网商路 699 号",
    }
    assert [o["shipping_address"] for o in done["orders"]] == [expected, expected]
    # Without address_id: the default (the first address), postal code included.
    by_default = checkout(api, t, [(t.sku_id, 1)])["orders"][0]
    home_text = {
        "recipient": "张三",
        "phone": "13800138000",
        "address": "浙江省 杭州市 西湖区 文三路 100 号 2 幢 301 室 310000",
    }
    assert by_default["shipping_address"] == home_text

    # Edit and delete the addresses: the orders keep what they had.
    ok(
        api.patch(
            t.path(f"/me/addresses/{office['address_id']}"),
            t.consumer_token,
            json={"recipient": "改名", "detail": "别处", "phone": "13900000000"},
        )
    )
    ok(api.call("DELETE", t.path(f"/me/addresses/{home['address_id']}"), t.consumer_token))
    for order in done["orders"]:
        for token in (t.consumer_token, t.admin_token):
            seen = ok(api.get(t.path(f"/orders/{order['order_id']}"), token))
            assert seen["shipping_address"] == expected
    seen = ok(api.get(t.path(f"/orders/{by_default['order_id']}"), t.merchant_token))
    assert seen["shipping_address"] == home_text
    listed = {o["order_id"]: o for o in ok(api.get(t.path("/orders"), t.consumer_token))["items"]}
    assert listed[by_default["order_id"]]["shipping_address"] == home_text
    assert listed[bare["order_id"]]["shipping_address"] is None
    # The office address is now the only one, hence the default: the next order takes its
    # new values.
    latest = checkout(api, t, [(t.sku_id, 1)])["orders"][0]
    assert latest["shipping_address"]["recipient"] == "改名"


def test_concurrent_adds_never_pass_the_limit_nor_make_two_defaults(
    api: Api, tenant: TenantFixture, server: Any
) -> None:
    t = tenant
    from concurrent.futures import ThreadPoolExecutor

    def add(n: int) -> int:
        client = Api(server.base_url)
        try:
            body = {**OFFICE, "recipient": f"并发{n}", "is_default": True}
            return client.post(t.path("/me/addresses"), t.consumer_token, json=body).status_code
        finally:
            client.http.close()

    with ThreadPoolExecutor(max_workers=6) as pool:
        first = list(pool.map(add, range(6)))
    assert first == [201] * 6
    book = _book(api, t)
    assert len(book) == 6
    assert len(_default_ids(book)) == 1
    for n in range(12):
        _add(api, t, {**HOME, "recipient": f"填充{n}"})
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(add, range(100, 106)))
    assert statuses == [201, 201, 409, 409, 409, 409], statuses
    book = _book(api, t)
    assert len(book) == 20
    assert len(_default_ids(book)) == 1
