"""API key scopes and integration caps over real HTTP (SQLite and PostgreSQL): a key does only
what its scopes allow (deny by default), and pushes above a tenant's caps are refused with an
alert event."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from mall_api import Api, TenantFixture, make_tenant, ok
from sqlalchemy import event
from test_api_integration import paid_body, push
from wallet_helpers import snapshot, store_of

from tokenmall.adapters.db.store import Store


@pytest.fixture
def store(server: Any) -> Store:
    return store_of(server)


@pytest.fixture
def shop(api: Api, operator_token: str) -> TenantFixture:
    return make_tenant(api, operator_token, params={"grant_on": "paid"})


def new_key(api: Api, t: TenantFixture, scopes: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "k"}
    if scopes is not None:
        body["scopes"] = scopes
    created: dict[str, Any] = ok(api.post(t.path("/api-keys"), t.admin_token, json=body), 201)
    return created


def admin_writes(t: TenantFixture) -> list[tuple[str, str, Any]]:
    """Writes an admin's session may make that a key without ``admin`` must not."""
    return [
        ("POST", "/users", {"email": "evil@shop.test", "password": "evil-pass-1", "role": "admin"}),
        ("PATCH", f"/users/{t.consumer_id}", {"kyc_status": "verified"}),
        ("PATCH", f"/users/{t.consumer_id}", {"role": "admin"}),
        ("PATCH", "/params", {"params": {"sell_fee_rate": "0.01"}}),
        ("PATCH", "/withdrawal-settings", {"requires_kyc": False}),
        ("PUT", "/integration-caps", {"per_order": "1.00"}),
        ("POST", "/api-keys", {"name": "minted", "scopes": ["admin"]}),
    ]


@pytest.mark.parametrize("scopes", [None, ["integration"], ["read"], ["integration", "read"]])
def test_a_key_without_admin_cannot_act_as_an_admin(
    api: Api, tenant: TenantFixture, store: Store, scopes: list[str] | None
) -> None:
    t = tenant
    token = new_key(api, t, scopes)["token"]
    before = snapshot(store, t.tenant_id)
    users = ok(api.get(t.path("/users"), t.admin_token))
    for method, path, body in admin_writes(t):
        answer = api.call(method, t.path(path), token, body)
        assert answer.status_code == 403, (method, path, answer.text)
        assert answer.json()["error"]["code"] == "insufficient_scope"
    assert snapshot(store, t.tenant_id) == before
    assert ok(api.get(t.path("/users"), t.admin_token)) == users
    keys = ok(api.get(t.path("/api-keys"), t.admin_token))["items"]
    assert [k["name"] for k in keys] == ["k"]


def test_a_key_without_admin_cannot_approve_withdrawals(
    api: Api, tenant: TenantFixture, store: Store
) -> None:
    from test_api_withdrawals import cash_up
    from wallet_helpers import verify_kyc

    t = tenant
    verify_kyc(api, t, t.consumer_id)
    cash_up(api, t, store, t.consumer_id, t.consumer_token)
    made = ok(api.post(t.path("/withdrawals"), t.consumer_token, json={"amount": "5.00"}), 201)
    path = t.path(f"/withdrawals/{made['withdrawal_id']}")
    token = new_key(api, t, ["integration", "read"])["token"]
    before = snapshot(store, t.tenant_id)
    assert api.post(path + "/approve", token).status_code == 403
    assert api.post(path + "/reject", token, json={"reason": "no"}).status_code == 403
    assert snapshot(store, t.tenant_id) == before
    # Read: it may see the withdrawal.
    assert ok(api.get(path, token))["status"] == "pending"
    # An admin key may approve.
    admin_key = new_key(api, t, ["admin"])["token"]
    assert ok(api.post(path + "/approve", admin_key))["status"] == "paid"


def test_scopes_are_chosen_at_creation_and_shown(api: Api, tenant: TenantFixture) -> None:
    t = tenant
    default = new_key(api, t)["key"]
    assert default["scopes"] == ["integration"]
    both = new_key(api, t, ["read", "integration"])["key"]
    assert both["scopes"] == ["integration", "read"]
    listed = {
        k["key_id"]: k["scopes"] for k in ok(api.get(t.path("/api-keys"), t.admin_token))["items"]
    }
    assert listed == {default["key_id"]: ["integration"], both["key_id"]: ["integration", "read"]}
    for bad in ([], ["root"], "admin"):
        answer = api.post(t.path("/api-keys"), t.admin_token, json={"name": "x", "scopes": bad})
        assert answer.status_code == 422, bad
    assert len(ok(api.get(t.path("/api-keys"), t.admin_token))["items"]) == 2
    trail = ok(api.get(t.path("/audit-trail"), t.admin_token))["items"]
    assert {e["subject_id"] for e in trail if e["action"] == "api_key.create"} == {
        default["key_id"],
        both["key_id"],
    }


def test_an_integration_key_pushes_and_reads_integration_orders_only(
    api: Api, shop: TenantFixture
) -> None:
    t = shop
    token = new_key(api, t, ["integration"])["token"]
    ok(push(api, t, token, "O1", "paid", paid_body()), 201)
    assert ok(api.get(t.path("/integration/orders/O1"), token))["external_order_id"] == "O1"
    ok(push(api, t, token, "O1", "completed", {}))
    # Nothing else: not even reading users.
    assert api.get(t.path("/users"), token).status_code == 403
    assert api.get(t.path("/withdrawals"), token).status_code == 403
    # A read key reads but does not push.
    reader = new_key(api, t, ["read"])["token"]
    assert ok(api.get(t.path("/users"), reader))["items"]
    assert push(api, t, reader, "O2", "paid", paid_body()).status_code == 403
    assert api.get(t.path("/integration/orders/O2"), t.admin_token).status_code == 404


def test_pushes_above_the_caps_are_refused_with_an_alert(
    api: Api, shop: TenantFixture, store: Store
) -> None:
    t = shop
    token = new_key(api, t)["token"]
    caps = ok(
        api.call(
            "PUT",
            t.path("/integration-caps"),
            t.admin_token,
            json={"per_order": "50.00", "per_day": "80.00"},
        )
    )
    assert (caps["per_order"], caps["per_day"]) == ("50.00", "80.00")
    before = snapshot(store, t.tenant_id)
    above = push(api, t, token, "O1", "paid", paid_body(amount="50.01"))
    assert above.status_code == 422, above.text
    error = above.json()["error"]
    assert (error["code"], error["field"]) == ("cap_exceeded", "amount")
    assert "per-order cap of 50.00" in error["message"]
    assert snapshot(store, t.tenant_id) == before
    assert api.get(t.path("/integration/orders/O1"), t.admin_token).status_code == 404
    ok(push(api, t, token, "O2", "paid", paid_body(amount="50.00")), 201)
    # The same order again is a replay, not more of the day.
    replay = push(api, t, token, "O2", "paid", paid_body(amount="50.00"))
    assert replay.status_code == 201
    day = push(api, t, token, "O3", "paid", paid_body(amount="30.01"))
    assert day.status_code == 422
    assert "per-day cap of 80.00" in day.json()["error"]["message"]
    ok(push(api, t, token, "O4", "paid", paid_body(amount="30.00")), 201)
    batch = api.post(
        t.path("/integration/batches/paid"),
        token,
        json={"orders": [{"external_order_id": "O5", **paid_body(amount="0.01")}]},
    )
    assert batch.status_code == 422
    assert batch.json()["error"]["field"] == "amount"
    alerts = ok(api.get(t.path("/events?type=integration.cap_exceeded"), t.admin_token))["items"]
    assert [a["data"]["orders"] for a in alerts] == [["O1"], ["O3"], ["O5"]]
    # A stranger's push does not raise an alert.
    assert push(api, t, "tmk.x.y.z", "O6", "paid", paid_body(amount="99.00")).status_code == 401
    again = ok(api.get(t.path("/events?type=integration.cap_exceeded"), t.admin_token))["items"]
    assert len(again) == 3


def test_caps_are_admins_and_validated(api: Api, tenant: TenantFixture) -> None:
    t = tenant
    path = t.path("/integration-caps")
    assert ok(api.get(path, t.admin_token))["per_order"] is None
    assert api.call("PUT", path, t.admin_token, json={"per_order": "-1"}).status_code == 422
    assert api.call("PUT", path, t.admin_token, json={"per_day": "0.00"}).status_code == 422
    assert api.call("PUT", path, t.consumer_token, json={"per_day": "1.00"}).status_code == 403
    assert ok(api.get(path, t.admin_token)) == {
        "per_order": None,
        "per_day": None,
        "updated_by": None,
        "updated_at": None,
    }


def _caps(api: Api, t: TenantFixture, **caps: str) -> None:
    ok(api.call("PUT", t.path("/integration-caps"), t.admin_token, json=caps))


def _alerts(api: Api, t: TenantFixture) -> list[dict[str, Any]]:
    path = t.path("/events?type=integration.cap_exceeded")
    items: list[dict[str, Any]] = ok(api.get(path, t.admin_token))["items"]
    return items


@pytest.mark.parametrize("group_commit", [True, False])
def test_caps_hold_with_and_without_group_commit(
    api: Api, shop: TenantFixture, store: Store, server: Any, monkeypatch: Any, group_commit: bool
) -> None:
    """Single pushes and batches meet the same caps whether pushes are grouped or each runs
    in its own transaction; a refusal changes nothing but its alert."""
    t = shop
    monkeypatch.setattr(server.app.state.settings, "group_commit", group_commit)
    token = new_key(api, t)["token"]
    _caps(api, t, per_order="25.00", per_day="50.00")
    before = snapshot(store, t.tenant_id)
    above = push(api, t, token, "P1", "paid", paid_body(amount="25.01"))
    assert above.status_code == 422, above.text
    assert (above.json()["error"]["code"], above.json()["error"]["field"]) == (
        "cap_exceeded",
        "amount",
    )
    assert snapshot(store, t.tenant_id) == before
    ok(push(api, t, token, "P2", "paid", paid_body(amount="20.00")), 201)
    # A batch: the order above the cap names its position, and nothing of the batch is written.
    orders = [
        {"external_order_id": "P3", **paid_body("U3", amount="10.00")},
        {"external_order_id": "P4", **paid_body("U4", amount="25.01")},
    ]
    batch = api.post(t.path("/integration/batches/paid"), token, json={"orders": orders})
    assert batch.status_code == 422, batch.text
    assert batch.json()["error"]["field"] == "orders[1].amount"
    assert api.get(t.path("/integration/orders/P3"), t.admin_token).status_code == 404
    # Together above the day: 20 + 10 + 25 > 50, though each is within the per-order cap.
    orders[1] = {"external_order_id": "P4", **paid_body("U4", amount="25.00")}
    day = api.post(t.path("/integration/batches/paid"), token, json={"orders": orders})
    assert day.status_code == 422, day.text
    assert "per-day cap of 50.00" in day.json()["error"]["message"]
    # Within both; then the same batch again is a replay, not more of the day.
    orders[1] = {"external_order_id": "P4", **paid_body("U4", amount="19.99")}
    first = api.post(t.path("/integration/batches/paid"), token, json={"orders": orders})
    assert [r["status"] for r in ok(first)["results"]] == [201, 201]
    again = api.post(t.path("/integration/batches/paid"), token, json={"orders": orders})
    assert [r["replayed"] for r in ok(again)["results"]] == [True, True]
    # P2 again under a new key: a replay (the one-transaction path), not refused.
    assert push(api, t, token, "P2", "paid", paid_body(amount="20.00")).status_code == 201
    assert [a["data"]["orders"] for a in _alerts(api, t)] == [["P1"], ["P3", "P4"], ["P3", "P4"]]
    # A key without the integration scope is refused as the push refuses it: no alert.
    reader = new_key(api, t, ["read"])["token"]
    assert push(api, t, reader, "P5", "paid", paid_body(amount="99.00")).status_code == 403
    assert len(_alerts(api, t)) == 3


def test_caps_removed_let_pushes_through(api: Api, shop: TenantFixture) -> None:
    t = shop
    token = new_key(api, t)["token"]
    _caps(api, t, per_order="1.00")
    assert push(api, t, token, "R1", "paid", paid_body(amount="2.00")).status_code == 422
    _caps(api, t)
    ok(push(api, t, token, "R1", "paid", paid_body(amount="2.00")), 201)


class _Transactions:
    """The transactions the server's engine begins while listened to: (thread name, the
    statements it ran in them, in order)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.begun: list[tuple[str, list[str]]] = []
        self._open: dict[int, list[str]] = {}

    def __enter__(self) -> _Transactions:
        event.listen(self.engine, "begin", self._begin)
        event.listen(self.engine, "before_cursor_execute", self._statement)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "begin", self._begin)
        event.remove(self.engine, "before_cursor_execute", self._statement)

    def _begin(self, conn: Any) -> None:
        statements: list[str] = []
        self._open[threading.get_ident()] = statements
        self.begun.append((threading.current_thread().name, statements))

    def _statement(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements = self._open.get(threading.get_ident())
        if statements is not None:
            statements.append(statement)

    def threads(self) -> list[str]:
        return [name.split("-")[0] for name, _ in self.begun]

    def reading_caps(self) -> list[str]:
        return [
            name.split("-")[0]
            for name, statements in self.begun
            if any("mall_integration_caps" in s for s in statements)
        ]


def test_the_caps_are_read_in_the_pushs_own_transactions(
    api: Api, shop: TenantFixture, store: Store, server: Any, monkeypatch: Any
) -> None:
    """A single push opens no transaction for the caps: with group commit its group's read
    (one transaction) reads them beside the key and the orders, then one writer unit writes;
    a capped tenant's push above the cap is refused after that same read, with only its
    alert written (no writer unit, nothing else changed). Without group commit the push is
    one transaction, which reads the caps."""
    t = shop
    token = new_key(api, t)["token"]
    ok(push(api, t, token, "W1", "paid", paid_body(amount="5.00")), 201)  # threads started
    with _Transactions(store.engine) as seen:
        ok(push(api, t, token, "W2", "paid", paid_body(amount="5.00")), 201)
    assert seen.threads() == ["pushes", "units"]
    assert seen.reading_caps() == ["pushes"]
    _caps(api, t, per_order="10.00")
    before = snapshot(store, t.tenant_id)
    with _Transactions(store.engine) as seen:
        above = push(api, t, token, "W3", "paid", paid_body(amount="10.01"))
    assert above.status_code == 422, above.text
    assert above.json()["error"]["code"] == "cap_exceeded"
    # The group's read, then the alert's transaction; no writer unit.
    assert seen.threads() == ["pushes", "pushes"]
    assert seen.reading_caps() == ["pushes"]
    assert snapshot(store, t.tenant_id) == before
    assert api.get(t.path("/integration/orders/W3"), t.admin_token).status_code == 404
    assert [a["data"]["orders"] for a in _alerts(api, t)] == [["W3"]]
    with _Transactions(store.engine) as seen:
        ok(push(api, t, token, "W4", "paid", paid_body(amount="10.00")), 201)
    assert seen.threads() == ["pushes", "units"]
    monkeypatch.setattr(server.app.state.settings, "group_commit", False)
    with _Transactions(store.engine) as seen:
        ok(push(api, t, token, "W5", "paid", paid_body(amount="10.00")), 201)
    assert len(seen.begun) == 1
    assert len(seen.reading_caps()) == 1
