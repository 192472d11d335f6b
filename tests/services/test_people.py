"""The people's use cases on the in-memory unit of work: tenants, registration, the KYC and
role moves, referral binding and the referral view."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from fakes import FakeUnitOfWork

from tokenmall.domain.economy.params import Params
from tokenmall.domain.mall.catalogue import Sku
from tokenmall.domain.mall.commissions import CommissionStatus, NewCommission, RewardRow
from tokenmall.domain.mall.errors import SelfDemotion
from tokenmall.domain.mall.people import KycStatus, Role, User
from tokenmall.domain.mall.withdrawals import DEFAULT_SETTINGS
from tokenmall.services.mall import access, people, referrals, tenants
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import Conflict, Forbidden, InvalidInput, NotFound

TENANT = "one"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
PASSWORD = "correct-horse-battery-9"
OPERATOR = Principal("operator_session", "cred-op", "op-1", None, None)
ADMIN = Principal("session", "cred-1", "usr-admin", TENANT, Role.ADMIN)
MEMBER = Principal("session", "cred-2", "usr-member", TENANT, Role.CONSUMER)


def _user(user_id: str, role: Role, kyc: KycStatus = KycStatus.NONE, **more: object) -> User:
    user = User(TENANT, user_id, f"{user_id}@example.com", user_id, role, kyc, user_id.upper(),
                None, NOW)  # fmt: skip
    return replace(user, **more)  # type: ignore[arg-type]


def mall(*, requires_kyc: bool = True) -> FakeUnitOfWork:
    """A unit with the tenant, its admin and one consumer (neither verified)."""
    uow = FakeUnitOfWork()
    uow.tenant_ledger.create(TENANT, Params(), OPERATOR.subject_id)
    uow.tenants.add(TENANT, "Tenant One", NOW)
    for who in (ADMIN, MEMBER):
        assert who.role is not None
        uow.people.users[(TENANT, who.subject_id)] = _user(who.subject_id, who.role)
    uow.withdrawals.rules[TENANT] = replace(DEFAULT_SETTINGS, requires_kyc=requires_kyc)
    return uow


def register(uow: FakeUnitOfWork, email: str, invite_code: str | None = None) -> User:
    with uow:
        return people.register(
            uow,
            TENANT,
            email=email,
            password=PASSWORD,
            display_name="",
            invite_code=invite_code,
            now=NOW,
            client="mark-1",
        )


def set_kyc(uow: FakeUnitOfWork, user_id: str, kyc: KycStatus, who: Principal = ADMIN) -> User:
    with uow:
        return people.update_user(uow, who, TENANT, user_id, role=None, kyc_status=kyc, now=NOW)


def refused(uow: FakeUnitOfWork, error: type[Exception], action: object) -> None:
    """``action`` (a callable on the unit) is refused with ``error`` and changes nothing."""
    before = uow.snapshot()
    with pytest.raises(error), uow:
        action()  # type: ignore[operator]
    assert uow.snapshot() == before


# -- registration -------------------------------------------------------------------------------


def test_registering_stores_a_consumer_with_no_kyc_its_hash_and_its_signup_mark() -> None:
    uow = mall()
    user = register(uow, "New.Person@Example.com")
    stored = uow.people.get_user(TENANT, user.user_id)
    assert stored == user
    assert (user.role, user.kyc_status, user.email) == (
        Role.CONSUMER,
        KycStatus.NONE,
        "new.person@example.com",
    )
    assert user.display_name == "new.person"
    assert uow.people.hashes[(TENANT, user.user_id)] != PASSWORD
    assert uow.people.marks[(TENANT, user.user_id)] == "mark-1"
    assert uow.commits == 1


def test_a_taken_email_answers_like_a_new_account_and_stores_nothing() -> None:
    uow = mall()
    first = register(uow, "twice@example.com")
    before = uow.snapshot()
    again = register(uow, "twice@example.com")
    assert again.user_id != first.user_id
    assert uow.people.get_user(TENANT, again.user_id) is None
    assert uow.snapshot() == before


def test_a_registration_that_loses_the_race_for_its_email_stores_nothing() -> None:
    uow = mall()
    uow.people.racing_emails.add("racer@example.com")
    before = uow.snapshot()
    user = register(uow, "racer@example.com")
    assert uow.people.get_user(TENANT, user.user_id) is None
    assert uow.snapshot() == before


def test_registering_in_an_unknown_tenant_or_with_a_bad_code_or_password_changes_nothing() -> None:
    uow = mall()
    refused(
        uow,
        NotFound,
        lambda: people.register(
            uow,
            "nope",
            email="a@example.com",
            password=PASSWORD,
            display_name="",
            invite_code=None,
            now=NOW,
        ),
    )
    refused(
        uow,
        InvalidInput,
        lambda: people.register(
            uow,
            TENANT,
            email="a@example.com",
            password=PASSWORD,
            display_name="",
            invite_code="NOSUCH",
            now=NOW,
        ),
    )
    refused(
        uow,
        InvalidInput,
        lambda: people.register(
            uow,
            TENANT,
            email="a@example.com",
            password="short",
            display_name="",
            invite_code=None,
            now=NOW,
        ),
    )


# -- referral binding ---------------------------------------------------------------------------


def test_an_invitee_is_bound_at_once_when_the_tenant_does_not_require_kyc() -> None:
    uow = mall(requires_kyc=False)
    invitee = register(uow, "friend@example.com", invite_code=" usr-member ")
    assert invitee.inviter_id == MEMBER.subject_id
    assert uow.referral_tree.referrers(TENANT, [invitee.user_id]) == {
        invitee.user_id: MEMBER.subject_id
    }


def test_an_unverified_inviters_invitees_wait_until_the_inviter_is_verified() -> None:
    uow = mall()
    invitee = register(uow, "friend@example.com", invite_code="USR-MEMBER")
    assert invitee.inviter_id == MEMBER.subject_id
    assert uow.referral_tree.referrers(TENANT, [invitee.user_id])[invitee.user_id] is None
    set_kyc(uow, MEMBER.subject_id, KycStatus.PENDING)
    assert uow.referral_tree.referrers(TENANT, [invitee.user_id])[invitee.user_id] is None
    verified = set_kyc(uow, MEMBER.subject_id, KycStatus.VERIFIED)
    assert verified.kyc_status == KycStatus.VERIFIED
    assert uow.referral_tree.referrer_of[(TENANT, invitee.user_id)] == MEMBER.subject_id
    kyc = [e for _, e in uow.audit.entries if e.action == access.USER_KYC]
    assert [(e.before, e.after) for e in kyc] == [
        ({"kyc_status": "none"}, {"kyc_status": "pending"}),
        ({"kyc_status": "pending"}, {"kyc_status": "verified"}),
    ]


def test_a_waiting_invitee_that_would_close_a_cycle_is_never_bound() -> None:
    uow = mall()
    uow.people.users[(TENANT, "usr-b")] = _user("usr-b", Role.CONSUMER, inviter_id="usr-member")
    uow.referral_tree.referrer_of[(TENANT, MEMBER.subject_id)] = "usr-b"
    with uow:
        people.update_user(
            uow, ADMIN, TENANT, MEMBER.subject_id, role=None, kyc_status=KycStatus.VERIFIED
        )
        assert people.bind_waiting_invitees(uow, TENANT, MEMBER.subject_id) == 0
    assert (TENANT, "usr-b") not in uow.referral_tree.referrer_of


# -- KYC and roles: the tables' moves -----------------------------------------------------------


def test_only_an_admin_moves_kyc_and_a_refusal_changes_nothing() -> None:
    uow = mall()
    refused(
        uow,
        Forbidden,
        lambda: people.update_user(
            uow, MEMBER, TENANT, MEMBER.subject_id, role=None, kyc_status=KycStatus.VERIFIED
        ),
    )
    refused(
        uow,
        NotFound,
        lambda: people.update_user(
            uow, ADMIN, TENANT, "usr-ghost", role=None, kyc_status=KycStatus.VERIFIED
        ),
    )
    refused(
        uow,
        InvalidInput,
        lambda: people.update_user(
            uow, ADMIN, TENANT, MEMBER.subject_id, role=None, kyc_status=None
        ),
    )


def test_setting_the_status_a_member_has_is_no_move_and_leaves_no_audit_entry() -> None:
    uow = mall()
    same = set_kyc(uow, MEMBER.subject_id, KycStatus.NONE)
    assert same.kyc_status == KycStatus.NONE
    assert uow.audit.entries == []


def test_an_admin_promotes_and_the_trail_says_so_but_never_demotes_themselves() -> None:
    uow = mall()
    with uow:
        promoted = people.update_user(
            uow, ADMIN, TENANT, MEMBER.subject_id, role=Role.MERCHANT, kyc_status=None, now=NOW
        )
    assert promoted.role == Role.MERCHANT
    [(_, entry)] = uow.audit.entries
    assert (entry.action, entry.before, entry.after) == (
        access.USER_ROLE,
        {"role": "consumer"},
        {"role": "merchant"},
    )
    refused(
        uow,
        SelfDemotion,
        lambda: people.update_user(
            uow, ADMIN, TENANT, ADMIN.subject_id, role=Role.CONSUMER, kyc_status=KycStatus.VERIFIED
        ),
    )
    assert uow.people.users[(TENANT, ADMIN.subject_id)].role == Role.ADMIN


def test_an_admin_creates_a_merchant_with_an_audit_entry() -> None:
    uow = mall()
    with uow:
        made = people.create_user(uow, ADMIN, TENANT, email="shop@example.com", password=PASSWORD,
                                  display_name="Shop", role=Role.MERCHANT, now=NOW)  # fmt: skip
    assert uow.people.get_user(TENANT, made.user_id) == made
    [(_, entry)] = uow.audit.entries
    assert (entry.action, entry.actor_id, entry.after) == (
        access.USER_CREATE,
        ADMIN.subject_id,
        {"role": "merchant", "kyc_status": "none"},
    )


def test_api_keys_are_made_listed_and_revoked_once() -> None:
    merchant = Principal("session", "cred-m", "usr-member", TENANT, Role.MERCHANT)
    uow = mall()
    with uow:
        key, token = people.create_api_key(uow, merchant, TENANT, "shop", NOW, ["read"])
    assert key.key_id in token
    with uow:
        assert people.list_api_keys(uow, merchant, TENANT) == [key]
        gone = people.revoke_api_key(uow, merchant, TENANT, key.key_id, NOW)
        again = people.revoke_api_key(uow, merchant, TENANT, key.key_id, NOW)
    assert gone.revoked_at == NOW == again.revoked_at
    actions = [e.action for _, e in uow.audit.entries]
    assert actions == [access.KEY_CREATE, access.KEY_REVOKE]
    other = Principal("session", "cred-o", "usr-other", TENANT, Role.MERCHANT)
    refused(uow, NotFound, lambda: people.revoke_api_key(uow, other, TENANT, key.key_id, NOW))
    refused(uow, Forbidden, lambda: people.revoke_api_key(uow, MEMBER, TENANT, key.key_id, NOW))


# -- tenants ------------------------------------------------------------------------------------


def new_tenant(tenant_id: str = "two", **params: object) -> tenants.NewTenant:
    return tenants.NewTenant(tenant_id, "Two", "default", dict(params), "boss@two.example",
                             PASSWORD, "")  # fmt: skip


def test_an_operator_creates_a_tenant_with_its_admin_and_a_first_parameter_set() -> None:
    uow = FakeUnitOfWork()
    with uow:
        tenant, admin = tenants.create(uow, OPERATOR, new_tenant(dividend_rate="0.25"), NOW)
    assert (tenant.tenant_id, tenant.params_version) == ("two", 1)
    assert tenant.params["dividend_rate"] == "0.25"
    assert (admin.role, admin.tenant_id) == (Role.ADMIN, "two")
    with uow:
        [first] = tenants.params_history(uow, OPERATOR, "two")
    assert (first.params_version, first.changed_by) == (1, OPERATOR.subject_id)


def test_creating_a_tenant_is_refused_to_members_twice_or_with_bad_params() -> None:
    uow = mall()
    refused(uow, Forbidden, lambda: tenants.create(uow, ADMIN, new_tenant(), NOW))
    refused(uow, Conflict, lambda: tenants.create(uow, OPERATOR, new_tenant(TENANT), NOW))
    refused(
        uow, InvalidInput, lambda: tenants.create(uow, OPERATOR, new_tenant(dividend_rate="2"), NOW)
    )


def test_an_admin_changes_parameters_once_per_version() -> None:
    uow = mall()
    with uow:
        changed = tenants.admin_update_params(uow, ADMIN, TENANT, {"dividend_rate": "0.2"}, 1, "k1")
    assert (changed.params_version, changed.params["dividend_rate"]) == (2, "0.2")
    [command] = uow.tenant_ledger.changed
    assert command.changed_by == ADMIN.subject_id
    assert command.idempotency_key.startswith("mall-params:")
    refused(
        uow,
        Conflict,
        lambda: tenants.admin_update_params(uow, ADMIN, TENANT, {"dividend_rate": "0.1"}, 1, "k2"),
    )
    refused(
        uow, InvalidInput, lambda: tenants.admin_update_params(uow, ADMIN, TENANT, {}, None, "k3")
    )
    refused(
        uow,
        Forbidden,
        lambda: tenants.admin_update_params(
            uow, MEMBER, TENANT, {"dividend_rate": "0.1"}, None, "k4"
        ),
    )


def test_a_change_that_would_strand_a_skus_contribution_is_refused_naming_it() -> None:
    uow = mall()
    uow.catalogue.add_sku(Sku(TENANT, "sku-1", "prd-1", "wine", 10_000, 5, 6_000, NOW))
    before = uow.snapshot()
    with pytest.raises(InvalidInput, match="sku-1") as caught, uow:
        tenants.admin_update_params(uow, ADMIN, TENANT, {"dividend_rate": "0.5"}, None, "k")
    assert caught.value.field == "params.dividend_rate"
    assert uow.snapshot() == before
    assert uow.tenant_ledger.changed == []


# -- the referral view --------------------------------------------------------------------------


def test_the_referral_view_is_integers_of_what_referring_earned() -> None:
    uow = mall(requires_kyc=False)
    invitee = register(uow, "friend@example.com", invite_code="USR-MEMBER")
    uow.commissions.add_rewards(
        TENANT,
        [
            RewardRow("ord-1", 1, MEMBER.subject_id, invitee.user_id, 150_000_000, 7, NOW),
            RewardRow("ord-2", 1, MEMBER.subject_id, invitee.user_id, 50_000_000, 9, NOW),
        ],
    )
    uow.commissions.add(
        TENANT,
        [
            NewCommission(
                "ord-1",
                1,
                MEMBER.subject_id,
                invitee.user_id,
                1_234,
                CommissionStatus.FROZEN,
                NOW,
                NOW,
            )
        ],
    )
    with uow:
        view = referrals.referrals(uow, MEMBER, TENANT, "https://mall.example/")
    assert view.invite_url == "https://mall.example/one/register?invite=USR-MEMBER"
    assert [i.display_name for i in view.invitees] == ["friend"]
    assert view.points_by_level == ((1, 200_000_000),)
    assert view.points_total == 200_000_000
    assert (view.commissions.frozen, view.commissions.count) == (1_234, 1)
    assert [r.amount_fen for r in view.recent] == [1_234]
    assert (view.debt_fen, view.inviter) == (0, None)
    with uow:
        theirs = referrals.referrals(uow, ADMIN, TENANT, "https://m/", invitee.user_id)
    assert theirs.inviter is not None
    assert theirs.inviter.user_id == MEMBER.subject_id
    assert theirs.bound_in_ledger
    refused(uow, Forbidden, lambda: referrals.referrals(uow, MEMBER, TENANT, "/", ADMIN.subject_id))
