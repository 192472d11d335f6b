"""Access control's and idempotency's use cases on the in-memory unit of work: the integration
caps (set, audited, checked against pushes, their alerts), the audit trail's pages, the
shared-signup flags, and the Idempotency-Key's stored answers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from fakes import FakeUnitOfWork

from tokenmall.domain.mall.access import AuditEntry
from tokenmall.domain.mall.integration import IntegrationOrder, IntegrationState
from tokenmall.domain.mall.people import KycStatus, Role, Scope, User
from tokenmall.domain.mall.responses import StoredResponse
from tokenmall.services.mall import access, idempotency
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import Conflict, Forbidden, InvalidInput, NotFound

TENANT = "one"
NOW = datetime(2026, 1, 2, 15, 4, 5, tzinfo=UTC)
ADMIN = Principal("session", "ses_1", "usr-admin", TENANT, Role.ADMIN)
MEMBER = Principal("session", "ses_2", "usr-member", TENANT, Role.CONSUMER)
READER = Principal("api_key", "key_r", "usr-admin", TENANT, Role.ADMIN, frozenset({Scope.READ}))
SHOP = Principal(
    "api_key", "key_i", "usr-admin", TENANT, Role.ADMIN, frozenset({Scope.INTEGRATION})
)


def set_caps(uow: FakeUnitOfWork, per_order: str | None, per_day: str | None) -> None:
    with uow:
        access.update_caps(uow, ADMIN, TENANT, per_order=per_order, per_day=per_day, now=NOW)


def pushed(uow: FakeUnitOfWork, external_order_id: str, fen: int, paid_at: datetime) -> None:
    uow.integration.orders[(TENANT, external_order_id)] = IntegrationOrder(
        TENANT, external_order_id, f"int:{external_order_id}", "usr-x", "x", fen, None,
        IntegrationState.PAID, False, 0, None, paid_at, None, None, None,
    )  # fmt: skip


# -- the caps ------------------------------------------------------------------------------------


def test_setting_the_caps_stores_them_and_audits_before_and_after() -> None:
    uow = FakeUnitOfWork()
    set_caps(uow, "100.00", None)
    set_caps(uow, "", "1000.50")
    caps = access.get_caps(uow, READER, TENANT)
    assert (caps.per_order_fen, caps.per_day_fen, caps.updated_by) == (None, 100_050, "usr-admin")
    trail = access.trail(uow, ADMIN, TENANT)
    assert [e.action for e in trail] == [access.INTEGRATION_CAPS] * 2
    # Ids made in the same millisecond sort at random: the second change is the one after it.
    newest = next(e for e in trail if e.before == {"per_order_fen": 10_000, "per_day_fen": None})
    assert newest.before == {"per_order_fen": 10_000, "per_day_fen": None}
    assert newest.after == {"per_order_fen": None, "per_day_fen": 100_050}
    assert (newest.actor_id, newest.actor_via) == ("usr-admin", "session")


@pytest.mark.parametrize(
    ("caller", "per_order", "error"),
    [
        (ADMIN, "-1", InvalidInput),
        (ADMIN, "1.234", InvalidInput),
        (MEMBER, "10", Forbidden),
        (READER, "10", Forbidden),
        (Principal("session", "s", "u", "two", Role.ADMIN), "10", NotFound),
    ],
)
def test_refused_caps_change_nothing(
    caller: Principal, per_order: str, error: type[Exception]
) -> None:
    uow = FakeUnitOfWork()
    set_caps(uow, "5.00", None)
    before = uow.snapshot()
    with pytest.raises(error), uow:
        access.update_caps(uow, caller, TENANT, per_order=per_order, per_day=None, now=NOW)
    assert uow.snapshot() == before


def test_reading_the_caps_and_the_trail_needs_an_admin() -> None:
    uow = FakeUnitOfWork()
    for read in (access.get_caps, access.referral_flags):
        with pytest.raises(Forbidden):
            read(uow, MEMBER, TENANT)
    with pytest.raises(Forbidden):
        access.trail(uow, MEMBER, TENANT)
    assert access.get_caps(uow, READER, TENANT) == access.get_caps(uow, ADMIN, TENANT)


def test_without_caps_no_push_is_refused() -> None:
    uow = FakeUnitOfWork()
    assert access.push_refusal(uow, MEMBER, TENANT, [("o1", "99999999.00")], NOW) is None


def test_the_per_order_cap_refuses_a_new_order_above_it_but_not_a_replay() -> None:
    uow = FakeUnitOfWork()
    set_caps(uow, "100.00", None)
    assert access.push_refusal(uow, SHOP, TENANT, [("o1", "100.00")], NOW) is None
    refusal = access.push_refusal(uow, SHOP, TENANT, [("o2", "100.01")], NOW)
    assert refusal is not None
    assert (refusal.error.code, refusal.error.field) == ("cap_exceeded", "amount")
    assert refusal.data["orders"] == ["o2"]
    pushed(uow, "o2", 10_001, NOW)  # pushed before the cap: its replay is not more of the day
    assert access.push_refusal(uow, SHOP, TENANT, [("o2", "100.01")], NOW) is None
    # A stranger is refused as the push refuses them, never with the caps' alert.
    with pytest.raises(Forbidden):
        access.push_refusal(uow, MEMBER, TENANT, [("o3", "1.00")], NOW)


def test_the_per_day_cap_counts_what_was_pushed_today() -> None:
    uow = FakeUnitOfWork()
    set_caps(uow, None, "500.00")
    pushed(uow, "yesterday", 40_000, NOW - timedelta(days=1))
    pushed(uow, "morning", 30_000, NOW.replace(hour=1))
    assert access.push_refusal(uow, SHOP, TENANT, [("a", "200.00")], NOW) is None
    refusal = access.push_refusal(uow, SHOP, TENANT, [("a", "150.00"), ("b", "50.01")], NOW)
    assert refusal is not None
    assert refusal.error.field == "orders[0].amount"
    assert refusal.data["orders"] == ["a", "b"]
    # A malformed amount is left to the push's own refusal.
    assert access.push_refusal(uow, SHOP, TENANT, [("c", "lots")], NOW) is None


def test_a_refused_push_raises_over_caps_and_its_alert_is_recorded_apart() -> None:
    uow = FakeUnitOfWork()
    set_caps(uow, "1.00", None)
    before = uow.snapshot()
    with pytest.raises(access.OverCaps) as over, uow:
        access.within_caps(uow, SHOP, TENANT, [("o1", "2.00")], NOW)
    assert uow.snapshot() == before
    with uow:
        access.record_refusal(uow, over.value.who, TENANT, over.value.refusal, NOW)
    assert uow.outbox.events == [(TENANT, access.CAP_EVENT, over.value.refusal.data)]
    alert = access.trail(uow, ADMIN, TENANT)[0]
    assert (alert.action, alert.actor_via) == (access.CAP_REFUSED, "api_key:key_i")


# -- the trail's pages and the shared-signup flags ------------------------------------------------


def test_the_trail_pages_newest_first_and_by_subject() -> None:
    uow = FakeUnitOfWork()
    for n in range(5):
        entry = AuditEntry(
            f"aud_{n}", NOW, "usr-admin", "session", access.USER_ROLE, f"usr-{n % 2}", None,
            {"n": n},
        )  # fmt: skip
        uow.audit.add(TENANT, entry)
    uow.audit.add("two", AuditEntry("aud_9", NOW, None, "system", access.USER_ROLE, "usr-0",
                                    None, None))  # fmt: skip
    first = access.trail(uow, ADMIN, TENANT, limit=2)
    assert len(access.trail(uow, ADMIN, TENANT)) == 5  # the other tenant's entry is not shown
    assert [e.after for e in first] == [{"n": 4}, {"n": 3}]
    rest = access.trail(uow, ADMIN, TENANT, before=first[-1].entry_id, limit=10)
    assert [e.after for e in rest] == [{"n": 2}, {"n": 1}, {"n": 0}]
    odd = access.trail(uow, ADMIN, TENANT, subject_id="usr-1")
    assert [e.after for e in odd] == [{"n": 3}, {"n": 1}]


def test_referral_flags_pair_invitees_signed_up_from_their_inviters_client() -> None:
    uow = FakeUnitOfWork()
    base = User(TENANT, "usr-a", "a@example.com", "", Role.CONSUMER, KycStatus.NONE, "A",
                None, NOW)  # fmt: skip
    for user_id, inviter, mark in (("usr-a", None, "m1"), ("usr-b", "usr-a", "m1"),
                                   ("usr-c", "usr-a", "m2"), ("usr-d", "usr-c", None)):  # fmt: skip
        uow.people.users[(TENANT, user_id)] = replace(base, user_id=user_id, inviter_id=inviter)
        if mark is not None:
            uow.people.marks[(TENANT, user_id)] = mark
    flags = access.referral_flags(uow, ADMIN, TENANT)
    assert flags == [access.ReferralFlag("usr-b", "usr-a", "same_signup_client")]


# -- Idempotency-Key answers ---------------------------------------------------------------------


def test_an_answer_is_stored_once_and_replayed_for_the_same_request_only() -> None:
    uow = FakeUnitOfWork()
    calls: list[int] = []

    def action() -> tuple[int, str]:
        calls.append(1)
        return 201, '{"id":"x"}'

    def run(request: str) -> tuple[object, bool]:
        with uow:
            return idempotency.run(uow, tenant_id=TENANT, scope="user:u", key="k1",
                                   request=request, action=action, now=NOW)  # fmt: skip

    first, replayed = run("hash-1")
    assert replayed is False
    again, replayed = run("hash-1")
    assert (again, replayed) == (first, True)
    assert len(calls) == 1
    before = uow.snapshot()
    with pytest.raises(Conflict) as refused:
        run("hash-2")
    assert refused.value.field == "Idempotency-Key"
    assert uow.snapshot() == before
    assert len(calls) == 1


def test_a_racing_answer_stored_first_makes_the_run_a_key_race() -> None:
    uow = FakeUnitOfWork()

    def racing_action() -> tuple[int, str]:
        # Another request with the same key commits its answer while this one works.
        stored = StoredResponse("hash-1", 200, "{}")
        uow.answers.stored[(TENANT, "user:u", "k1")] = stored
        return 200, '{"mine":true}'

    with pytest.raises(idempotency.KeyRace):
        idempotency.run(uow, tenant_id=TENANT, scope="user:u", key="k1", request="hash-1",
                        action=racing_action, now=NOW)  # fmt: skip
    assert uow.answers.stored[(TENANT, "user:u", "k1")].body == "{}"
