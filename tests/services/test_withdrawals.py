"""The withdrawals' use cases on the in-memory unit of work: request, approve, reject, rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fakes import FakeUnitOfWork

from tokenmall.domain.errors import InsufficientBalance
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.mall.access import AuditEntry
from tokenmall.domain.mall.errors import TransitionRefused
from tokenmall.domain.mall.people import KycStatus, Role, User
from tokenmall.domain.mall.withdrawals import WithdrawalStatus
from tokenmall.services.mall import access, withdrawals
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import Conflict, Forbidden, InvalidInput, NotFound

TENANT = "t1"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ASKER = Principal("session", "cred-1", "usr-asker", TENANT, Role.ADMIN)
MEMBER = Principal("session", "cred-2", "usr-member", TENANT, Role.CONSUMER)
FIRST = Principal("session", "cred-3", "usr-first", TENANT, Role.ADMIN)
SECOND = Principal("api_key", "cred-4", "usr-second", TENANT, Role.ADMIN)


def _user(who: Principal, kyc: KycStatus = KycStatus.VERIFIED) -> User:
    assert who.role is not None
    sid = who.subject_id
    return User(TENANT, sid, f"{sid}@example.com", sid, who.role, kyc, "c", None, NOW)


def mall(cash: int = 1_000_000, debt: int = 0) -> FakeUnitOfWork:
    """A unit with verified users; ASKER and MEMBER hold ``cash`` fen, ASKER owes ``debt``."""
    uow = FakeUnitOfWork()
    for who in (ASKER, MEMBER, FIRST, SECOND):
        uow.people.users[(TENANT, who.subject_id)] = _user(who)
    for who in (ASKER, MEMBER):
        uow.cash.cash[(TENANT, who.subject_id)] = cash
    if debt:
        uow.cash.debts[(TENANT, ASKER.subject_id)] = debt
    return uow


def ask(uow: FakeUnitOfWork, amount: str, who: Principal = ASKER) -> str:
    with uow:
        return withdrawals.request(uow, who, TENANT, amount, NOW).withdrawal_id


def trail(uow: FakeUnitOfWork, action: str, actor: str, subject: str, **after: object) -> None:
    before = {"role": Role.CONSUMER} if action == access.USER_ROLE else None
    entry = AuditEntry(f"aud-{len(uow.audit.entries)}", NOW, actor, "session", action, subject,
                       before, dict(after) or None)  # fmt: skip
    uow.audit.add(TENANT, entry)


def where(who: Principal) -> tuple[str, str]:
    return (TENANT, who.subject_id)


def test_a_request_within_the_balance_holds_the_cash() -> None:
    uow = mall()
    with uow:
        found = withdrawals.request(uow, ASKER, TENANT, "120.50", NOW)
    assert (found.amount_fen, found.status, found.approvals_required) == (
        12_050,
        WithdrawalStatus.PENDING,
        1,
    )
    assert uow.cash.cash[where(ASKER)] == 1_000_000 - 12_050
    assert uow.cash.held[where(ASKER)] == 12_050
    assert [type(command) for command in uow.cash.commands] == [c.HoldWithdrawal]
    assert uow.commits == 1


def test_a_debt_is_repaid_before_the_cash_is_held() -> None:
    uow = mall(cash=10_000, debt=3_000)
    with uow:
        found = withdrawals.request(uow, ASKER, TENANT, "70.00", NOW)
    assert found.debt_repaid_fen == 3_000
    assert uow.cash.debts[where(ASKER)] == 0
    assert uow.cash.cash[where(ASKER)] == 0
    assert [type(command) for command in uow.cash.commands] == [c.RepayDebt, c.HoldWithdrawal]


@pytest.mark.parametrize(
    ("cash", "debt", "amount"),
    [(10_000, 0, "100.01"), (10_000, 1, "100.00"), (0, 0, "1.00")],
)
def test_a_request_beyond_the_balance_changes_nothing(cash: int, debt: int, amount: str) -> None:
    uow = mall(cash=cash, debt=debt)
    before = uow.snapshot()
    with pytest.raises(InsufficientBalance), uow:
        withdrawals.request(uow, ASKER, TENANT, amount, NOW)
    assert uow.snapshot() == before
    assert uow.commits == 0


def test_an_unverified_member_or_a_request_below_the_minimum_is_refused() -> None:
    uow = mall()
    uow.people.users[where(MEMBER)] = _user(MEMBER, KycStatus.PENDING)
    before = uow.snapshot()
    with pytest.raises(withdrawals.KycRequired), uow:
        withdrawals.request(uow, MEMBER, TENANT, "10.00", NOW)
    with pytest.raises(InvalidInput, match=r"smallest withdrawal is 1\.00"), uow:
        withdrawals.request(uow, ASKER, TENANT, "0.99", NOW)
    assert uow.snapshot() == before


def test_one_approval_pays_out_below_the_threshold() -> None:
    uow = mall()
    wid = ask(uow, "100.00")
    with uow:
        done = withdrawals.approve(uow, FIRST, TENANT, wid, NOW)
    assert (done.status, done.approved_by, done.decided_by) == (
        WithdrawalStatus.PAID,
        ("usr-first",),
        "usr-first",
    )
    assert uow.cash.held[where(ASKER)] == 0
    assert uow.cash.paid_out[where(ASKER)] == 10_000


def test_the_requester_may_not_approve_their_own_withdrawal() -> None:
    uow = mall()
    wid = ask(uow, "100.00")
    before = uow.snapshot()
    with pytest.raises(Forbidden, match="your own withdrawal"), uow:
        withdrawals.approve(uow, ASKER, TENANT, wid, NOW)
    assert uow.snapshot() == before


@pytest.mark.parametrize(
    ("action", "after"),
    [(access.USER_CREATE, {}), (access.USER_ROLE, {"role": Role.ADMIN})],
)
def test_an_admin_the_requester_created_or_promoted_may_not_approve(
    action: str, after: dict[str, object]
) -> None:
    uow = mall()
    trail(uow, action, ASKER.subject_id, FIRST.subject_id, **after)
    wid = ask(uow, "100.00")
    before = uow.snapshot()
    with pytest.raises(Forbidden, match="the requester created or made admin"), uow:
        withdrawals.approve(uow, FIRST, TENANT, wid, NOW)
    assert uow.snapshot() == before
    with uow:
        assert withdrawals.approve(uow, SECOND, TENANT, wid, NOW).status == WithdrawalStatus.PAID


def test_an_admin_made_after_the_request_may_not_approve_it() -> None:
    uow = mall()
    wid = ask(uow, "100.00")
    uow.audit.add(
        TENANT,
        AuditEntry(
            "aud-late",
            NOW + timedelta(minutes=1),
            SECOND.subject_id,
            "session",
            access.USER_ROLE,
            FIRST.subject_id,
            {"role": Role.CONSUMER},
            {"role": Role.ADMIN},
        ),
    )
    with pytest.raises(Forbidden, match="became admin after"), uow:
        withdrawals.approve(uow, FIRST, TENANT, wid, NOW + timedelta(minutes=2))


def test_above_the_threshold_two_different_admins_must_approve() -> None:
    uow = mall()
    wid = ask(uow, "5000.01")
    with uow:
        first = withdrawals.approve(uow, FIRST, TENANT, wid, NOW)
    assert (first.status, first.approvals_required, first.approved_by) == (
        WithdrawalStatus.PENDING,
        2,
        ("usr-first",),
    )
    assert uow.cash.held[where(ASKER)] == 500_001
    before = uow.snapshot()
    with pytest.raises(Conflict, match="second, different admin"), uow:
        withdrawals.approve(uow, FIRST, TENANT, wid, NOW)
    assert uow.snapshot() == before
    with uow:
        done = withdrawals.approve(uow, SECOND, TENANT, wid, NOW)
    assert (done.status, done.approved_by) == (WithdrawalStatus.PAID, ("usr-first", "usr-second"))
    assert (uow.cash.held[where(ASKER)], uow.cash.paid_out[where(ASKER)]) == (0, 500_001)


def test_raising_the_threshold_just_before_asking_does_not_lower_the_approvals() -> None:
    uow = mall()
    with uow:
        changed = withdrawals.update_settings(
            uow,
            FIRST,
            TENANT,
            requires_kyc=None,
            min_amount=None,
            two_approver_threshold="9000.00",
            now=NOW - timedelta(hours=1),
        )
    assert changed.two_approver_threshold_fen == 900_000
    wid = ask(uow, "6000.00")
    with uow:
        assert withdrawals.get(uow, ASKER, TENANT, wid).approvals_required == 2


def test_a_rejection_returns_the_money() -> None:
    uow = mall()
    wid = ask(uow, "250.00")
    with uow:
        done = withdrawals.reject(uow, FIRST, TENANT, wid, "not this week", NOW)
    assert (done.status, done.reason, done.decided_by) == (
        WithdrawalStatus.REJECTED,
        "not this week",
        "usr-first",
    )
    assert uow.cash.cash[where(ASKER)] == 1_000_000
    assert uow.cash.held[where(ASKER)] == 0
    assert [type(command) for command in uow.cash.commands] == [
        c.HoldWithdrawal,
        c.ReleaseWithdrawal,
    ]
    before = uow.snapshot()
    with pytest.raises(TransitionRefused, match="already rejected"), uow:
        withdrawals.approve(uow, SECOND, TENANT, wid, NOW)
    assert uow.snapshot() == before


def test_members_see_only_their_own_withdrawals() -> None:
    uow = mall()
    mine = ask(uow, "10.00", MEMBER)
    theirs = ask(uow, "20.00")
    with uow:
        listed = withdrawals.list_withdrawals(
            uow, MEMBER, TENANT, status=None, user_id=None, after=None, limit=10
        )
        assert [w.withdrawal_id for w in listed] == [mine]
        everyone = withdrawals.list_withdrawals(
            uow, FIRST, TENANT, status="pending", user_id=None, after=None, limit=10
        )
        assert sorted(w.withdrawal_id for w in everyone) == sorted([mine, theirs])
        with pytest.raises(NotFound):
            withdrawals.get(uow, MEMBER, TENANT, theirs)


def test_a_settings_change_is_audited_in_integers() -> None:
    uow = mall()
    with uow:
        withdrawals.update_settings(
            uow,
            SECOND,
            TENANT,
            requires_kyc=False,
            min_amount="5.00",
            two_approver_threshold=None,
            now=NOW,
        )
        found = withdrawals.get_settings(uow, FIRST, TENANT)
    assert (found.requires_kyc, found.min_amount_fen, found.updated_by) == (
        False,
        500,
        "usr-second",
    )
    [(_, entry)] = uow.audit.entries
    assert (entry.action, entry.actor_via, entry.before, entry.after) == (
        access.WITHDRAWAL_SETTINGS,
        "api_key:cred-4",
        {"requires_kyc": True, "min_amount_fen": 100, "two_approver_threshold_fen": 500_000},
        {"requires_kyc": False, "min_amount_fen": 500, "two_approver_threshold_fen": 500_000},
    )
    with pytest.raises(Forbidden), uow:
        withdrawals.get_settings(uow, MEMBER, TENANT)
