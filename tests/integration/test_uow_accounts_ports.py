"""The SQL side of the accounts', access, webhooks' and answers' ports of the unit of work, on
SQLite and PostgreSQL: what the fakes of ``tests/services`` stand in for behaves the same on
both databases (an answer stored once, sessions slid forward only, operators added once,
caps inserted then changed, a delivery claimed by one worker only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tokenmall.adapters.db.store import Store
from tokenmall.domain.mall.access import NO_CAPS, AuditEntry, Caps
from tokenmall.domain.mall.people import ApiKey, KycStatus, Role, Scope, User
from tokenmall.domain.mall.responses import StoredResponse
from tokenmall.domain.mall.webhooks import DeliveryStatus, Endpoint
from tokenmall.services.mall import ids
from tokenmall.services.mall.uow import Database

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def _mall(store: Store, tenant: str) -> Database:
    db = Database(store.engine)
    with db.unit() as uow:
        uow.tenants.add(tenant, "Shop", NOW)
        for user_id, inviter in (("usr-a", None), ("usr-b", "usr-a")):
            user = User(tenant, user_id, f"{user_id}@example.com", "", Role.CONSUMER,
                        KycStatus.NONE, ids.new_invite_code(), inviter, NOW)  # fmt: skip
            assert uow.people.add_user(user, "hash-1")
    return db


def test_an_answer_is_stored_once_and_the_unit_goes_on_after_a_race(
    store: Store, tenant: str
) -> None:
    db = _mall(store, tenant)
    first = StoredResponse("h1", 201, '{"n":1}')
    with db.unit() as uow:
        assert uow.answers.add(tenant, "user:a", "k", first, NOW) is True
    with db.unit() as uow:
        assert uow.answers.add(tenant, "user:a", "k", StoredResponse("h2", 200, "{}"), NOW) is False
        assert uow.answers.add(tenant, "user:b", "k", StoredResponse("h3", 200, "{}"), NOW)
    with db.reading() as reader:
        assert reader.answers.find(tenant, "user:a", "k") == first
        assert reader.answers.find(tenant, "user:b", "k") is not None


def test_credentials_sessions_slide_forward_and_are_revoked_but_one(
    store: Store, tenant: str
) -> None:
    db = _mall(store, tenant)
    later = NOW + timedelta(hours=1)
    with db.unit() as uow:
        assert uow.credentials.login_row(tenant, "usr-a@example.com") == ("usr-a", "hash-1")
        uow.credentials.set_password_hash(tenant, "usr-a", "hash-2")
        for session_id in ("ses_1", "ses_2", "ses_3"):
            uow.credentials.add_session(tenant, session_id, "usr-a", "secret", NOW, later)
        uow.credentials.slide_session(tenant, "ses_1", later + timedelta(minutes=5))
        uow.credentials.slide_session(tenant, "ses_2", NOW)  # never back
    with db.unit() as uow:
        assert uow.credentials.password_hash(tenant, "usr-a") == "hash-2"
        one = uow.credentials.session(tenant, "ses_1")
        two = uow.credentials.session(tenant, "ses_2")
        assert one is not None
        assert one.expires_at == later + timedelta(minutes=5)
        assert two is not None
        assert two.expires_at == later
        assert uow.credentials.session_created_at(tenant, "ses_1") == NOW
        assert uow.credentials.revoke_sessions(tenant, "usr-a", NOW, keep="ses_3") == 2
        assert uow.credentials.revoke_sessions(tenant, "usr-a", NOW, keep="ses_3") == 0
    with db.reading() as reader:
        kept = reader.credentials.session(tenant, "ses_3")
        assert kept is not None
        assert not kept.revoked
        assert reader.credentials.api_key(tenant, "key_none") is None


def test_api_keys_are_credentials_with_their_scopes(store: Store, tenant: str) -> None:
    db = _mall(store, tenant)
    key = ApiKey(tenant, "key_1", "usr-a", "shop", NOW, None, frozenset({Scope.READ}))
    with db.unit() as uow:
        uow.people.add_api_key(key, "secret-hash")
    with db.reading() as reader:
        found = reader.credentials.api_key(tenant, "key_1")
    assert found is not None
    assert (found.owner_id, found.secret_hash, found.scopes) == (
        "usr-a", "secret-hash", frozenset({Scope.READ}),
    )  # fmt: skip


def test_operators_are_added_once_and_their_sessions_revoked(store: Store) -> None:
    db = Database(store.engine)
    email = f"{ids.new_id('op')}@example.com"
    with db.unit() as uow:
        assert uow.operators.add_unless_exists("opr_1" + email[:6], email, "h", NOW) is True
        assert uow.operators.add_unless_exists("opr_2" + email[:6], email, "h", NOW) is False
        found = uow.operators.login_row(email)
        assert found is not None
        uow.operators.add_session("ops_" + email[:10], found[0], "secret", NOW, NOW)
        uow.operators.revoke_session("ops_" + email[:10], NOW)
    with db.reading() as reader:
        session = reader.operators.session("ops_" + email[:10])
    assert session is not None
    assert session.revoked


def test_caps_are_inserted_then_changed_and_the_trail_pages(store: Store, tenant: str) -> None:
    db = _mall(store, tenant)
    with db.unit() as uow:
        assert uow.access.caps(tenant) == NO_CAPS
        uow.access.put_caps(tenant, Caps(100, None, "usr-a", NOW))
        uow.access.put_caps(tenant, Caps(None, 500, "usr-a", NOW))
        for n in range(3):
            entry = AuditEntry(f"aud_{n}", NOW, "usr-a", "session", "user.role", f"s{n % 2}",
                               None, {"n": n})  # fmt: skip
            uow.audit.add(tenant, entry)
    with db.reading() as reader:
        assert reader.access.caps(tenant) == Caps(None, 500, "usr-a", NOW)
        page = reader.access.trail(tenant, subject_id=None, before="aud_2", limit=10)
        assert [e.entry_id for e in page] == ["aud_1", "aud_0"]
        only = reader.access.trail(tenant, subject_id="s0", before=None, limit=1)
        assert [e.entry_id for e in only] == ["aud_2"]
        assert reader.access.pushed_orders(tenant, ["o1", "o2"]) == set()
        assert reader.access.pushed_since(tenant, NOW) == 0
        assert reader.access.shared_signups(tenant, 10) == []


def test_a_due_delivery_is_claimed_by_one_worker_and_recorded(store: Store, tenant: str) -> None:
    db = _mall(store, tenant)
    endpoint = Endpoint(tenant, "whe_1", "https://shop.test/", ("order.paid",), "s", "", "usr-a",
                        NOW, None)  # fmt: skip
    with db.unit() as uow:
        uow.webhooks.add_endpoint(endpoint)
        uow.outbox.emit(tenant, "order.paid", {"order_id": "o1"}, NOW)
    with db.unit() as uow:
        assert tenant in uow.webhooks.tenants_with_due(NOW + timedelta(seconds=1))
        [(delivery_id, seen)] = uow.webhooks.due(tenant, NOW + timedelta(seconds=1), 10)
        lease = NOW + timedelta(minutes=1)
        assert uow.webhooks.claim(tenant, delivery_id, seen, lease) is True
        assert uow.webhooks.claim(tenant, delivery_id, seen, lease) is False
        delivery = uow.webhooks.get_delivery(tenant, delivery_id)
        assert delivery is not None
        uow.webhooks.record_attempt(
            delivery, at=NOW, status_code=200, error=None, duration_ms=5,
            status=DeliveryStatus.DELIVERED, next_attempt_at=None, failures=0,
        )  # fmt: skip
    with db.unit() as uow:
        logged = uow.webhooks.list_deliveries(tenant, status="delivered", endpoint_id="whe_1",
                                              event_id=None, after=None, limit=10)  # fmt: skip
        assert [d.delivery_id for d in logged] == [delivery_id]
        tries = uow.webhooks.attempts_of(tenant, [delivery_id])[delivery_id]
        assert [(a.attempt, a.status_code) for a in tries] == [(1, 200)]
        uow.webhooks.redeliver(tenant, delivery_id, NOW)
        again = uow.webhooks.get_delivery(tenant, delivery_id)
        assert again is not None
        assert (again.status, again.next_attempt_at) == (DeliveryStatus.PENDING, NOW)
        uow.webhooks.delete_endpoint(tenant, "whe_1", NOW)
    with db.reading() as reader:
        # A deleted endpoint's waiting deliveries fail: they will never be tried again.
        given_up = reader.webhooks.get_delivery(tenant, delivery_id)
        assert given_up is not None
        assert (given_up.status, given_up.last_error) == (DeliveryStatus.FAILED, "endpoint deleted")
        assert reader.webhooks.list_endpoints(tenant, None, 10) == []
        deleted = reader.webhooks.get_endpoint(tenant, "whe_1")
        assert deleted is not None
        assert deleted.deleted_at == NOW
        events = reader.webhooks.list_events(tenant, "order.paid", None, 10)
        assert [e.data for e in events] == [{"order_id": "o1"}]
