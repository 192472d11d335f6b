"""Real-name verification on the in-memory unit of work: a consumer submits, an admin verifies
or rejects, the member's status follows, every refusal changes nothing, and the full values
are stored only sealed."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from fakes import FakeUnitOfWork

from tokenmall.adapters.signing import SealError, personal_data_sealer
from tokenmall.domain.mall.errors import TransitionRefused
from tokenmall.domain.mall.kyc import KycInvalid, SubmissionStatus
from tokenmall.domain.mall.people import KycStatus, Role, User
from tokenmall.domain.mall.withdrawals import DEFAULT_SETTINGS
from tokenmall.services.mall import access, kyc, withdrawals
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import Conflict, Forbidden, NotFound

TENANT = "t1"
NOW = datetime(2026, 12, 5, 3, 4, 5, tzinfo=UTC)
ID = "11010519491231002X"
OTHER_ID = "330106199203154327"
ADMIN = Principal("session", "cred-1", "usr-admin", TENANT, Role.ADMIN)
MEMBER = Principal("session", "cred-2", "usr-member", TENANT, Role.CONSUMER)
SECOND = Principal("session", "cred-3", "usr-second", TENANT, Role.CONSUMER)
MERCHANT = Principal("session", "cred-4", "usr-merchant", TENANT, Role.MERCHANT)
SEALER = personal_data_sealer("test-secret")


def _user(who: Principal, status: KycStatus = KycStatus.NONE) -> User:
    assert who.role is not None
    sid = who.subject_id
    return User(TENANT, sid, f"{sid}@example.com", sid, who.role, status, sid, None, NOW)


def mall() -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    for who in (ADMIN, MEMBER, SECOND, MERCHANT):
        uow.people.users[(TENANT, who.subject_id)] = _user(who)
    uow.withdrawals.rules[TENANT] = replace(DEFAULT_SETTINGS, requires_kyc=True)
    uow.cash.cash[(TENANT, MEMBER.subject_id)] = 100_00
    return uow


def submit(
    uow: FakeUnitOfWork,
    who: Principal = MEMBER,
    *,
    name: str = "张三",
    number: str = ID,
    phone: str | None = "13800138001",
) -> str:
    with uow:
        made = kyc.submit(
            uow, SEALER, who, TENANT, real_name=name, id_number=number, phone=phone, now=NOW
        )
    return made.submission_id


def review(uow: FakeUnitOfWork, submission_id: str, decision: str, reason: str | None = None):  # type: ignore[no-untyped-def]
    with uow:
        return kyc.review(
            uow, SEALER, ADMIN, TENANT, submission_id, decision=decision, reason=reason, now=NOW
        )


def status_of(uow: FakeUnitOfWork, who: Principal = MEMBER) -> KycStatus:
    return uow.people.users[(TENANT, who.subject_id)].kyc_status


def refused(uow: FakeUnitOfWork, error: type[Exception], action: object) -> Exception:
    """``action`` (a callable on the unit) is refused with ``error`` and changes nothing."""
    before = uow.snapshot()
    with pytest.raises(error) as caught, uow:
        action()  # type: ignore[operator]
    assert uow.snapshot() == before
    return caught.value


def test_a_submission_is_pending_masked_audited_and_sealed() -> None:
    uow = mall()
    sid = submit(uow)
    found = uow.kyc.get(TENANT, sid)
    assert found is not None
    assert (found.status, found.name_masked, found.id_masked, found.phone_masked) == (
        SubmissionStatus.PENDING,
        "张*",
        "1101**********002X",
        "138****8001",
    )
    assert status_of(uow) == KycStatus.PENDING
    sealed, fingerprint = uow.kyc.sealed_values[(TENANT, sid)]
    for plain in (ID, ID[:-1], "张三", "13800138001"):
        assert plain.encode() not in sealed
        assert plain.encode("utf-8") not in sealed
    assert ID not in fingerprint
    opened = json.loads(SEALER.open(TENANT, sealed, f"kyc/{TENANT}/{sid}".encode()))
    assert opened == {"real_name": "张三", "id_number": ID, "phone": "13800138001"}
    # bound to its tenant, its row and the deployment's secret
    with pytest.raises(SealError):
        SEALER.open(TENANT, sealed, f"kyc/{TENANT}/kyc-other".encode())
    with pytest.raises(SealError):
        SEALER.open("t2", sealed, f"kyc/t2/{sid}".encode())
    with pytest.raises(SealError):
        personal_data_sealer("another").open(TENANT, sealed, f"kyc/{TENANT}/{sid}".encode())
    (_, entry), *_ = uow.audit.entries
    assert (entry.action, entry.actor_id, entry.subject_id) == (
        access.USER_KYC,
        MEMBER.subject_id,
        MEMBER.subject_id,
    )
    assert entry.before == {"kyc_status": "none"}
    assert entry.after == {"kyc_status": "pending", "submission_id": sid}
    mine = kyc.mine(uow, MEMBER, TENANT)
    assert (mine.kyc_status, mine.requires_kyc, mine.may_submit) == (
        KycStatus.PENDING,
        True,
        False,
    )
    assert mine.submission == found


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "real_name"),
        ({"name": "张\x01三"}, "real_name"),
        ({"name": "张" * 51}, "real_name"),
        ({"number": "110105194912310021"}, "id_number"),  # bad check character
        ({"number": "11010519491231002"}, "id_number"),
        ({"number": "110105209912310021"}, "id_number"),  # born in the future
        ({"phone": "12345"}, "phone"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_changes(
    fields: dict[str, str], field: str
) -> None:
    uow = mall()
    error = refused(uow, KycInvalid, lambda: submit(uow, **fields))  # type: ignore[arg-type]
    assert getattr(error, "field", None) == field
    assert status_of(uow) == KycStatus.NONE
    assert not uow.kyc.submissions


@pytest.mark.parametrize("status", [KycStatus.PENDING, KycStatus.VERIFIED])
def test_submitting_while_pending_or_verified_is_refused(status: KycStatus) -> None:
    uow = mall()
    uow.people.users[(TENANT, MEMBER.subject_id)] = _user(MEMBER, status)
    error = refused(uow, TransitionRefused, lambda: submit(uow))
    assert getattr(error, "field", None) == "kyc_status"
    assert str(status) in str(error)


def test_only_consumers_submit_and_only_admins_review() -> None:
    uow = mall()
    refused(uow, Forbidden, lambda: submit(uow, MERCHANT))
    refused(uow, Forbidden, lambda: submit(uow, ADMIN))
    sid = submit(uow)
    refused(
        uow,
        Forbidden,
        lambda: kyc.review(
            uow, SEALER, MEMBER, TENANT, sid, decision="verify", reason=None, now=NOW
        ),
    )
    refused(uow, Forbidden, lambda: kyc.list_submissions(
        uow, MEMBER, TENANT, status=None, after=None, limit=10))  # fmt: skip
    refused(uow, NotFound, lambda: review(uow, "kyc-nope", "verify"))


def test_verifying_lets_the_member_withdraw() -> None:
    uow = mall()
    with pytest.raises(withdrawals.KycRequired), uow:
        withdrawals.request(uow, MEMBER, TENANT, "10.00", NOW)
    sid = submit(uow)
    with pytest.raises(withdrawals.KycRequired), uow:
        withdrawals.request(uow, MEMBER, TENANT, "10.00", NOW)
    done = review(uow, sid, "verify")
    assert (done.status, done.reviewed_by, done.reviewed_at, done.reason) == (
        SubmissionStatus.VERIFIED,
        ADMIN.subject_id,
        NOW,
        None,
    )
    assert status_of(uow) == KycStatus.VERIFIED
    _, entry = uow.audit.entries[-1]
    assert (entry.action, entry.actor_id, entry.subject_id) == (
        access.USER_KYC,
        ADMIN.subject_id,
        MEMBER.subject_id,
    )
    assert entry.before == {"kyc_status": "pending"}
    assert entry.after == {"kyc_status": "verified", "submission_id": sid, "reason": None}
    with uow:
        asked = withdrawals.request(uow, MEMBER, TENANT, "10.00", NOW)
    assert asked.amount_fen == 10_00
    # reviewed once: a second decision is refused
    error = refused(uow, TransitionRefused, lambda: review(uow, sid, "reject", "late"))
    assert getattr(error, "field", None) == "submission_id"


def test_a_rejection_has_a_reason_and_the_member_may_submit_again() -> None:
    uow = mall()
    sid = submit(uow)
    error = refused(uow, KycInvalid, lambda: review(uow, sid, "reject", "  "))
    assert getattr(error, "field", None) == "reason"
    done = review(uow, sid, "reject", "姓名与证件不符")
    assert (done.status, done.reason) == (SubmissionStatus.REJECTED, "姓名与证件不符")
    assert status_of(uow) == KycStatus.REJECTED
    assert kyc.mine(uow, MEMBER, TENANT).may_submit
    again = submit(uow, name="张三丰")
    assert status_of(uow) == KycStatus.PENDING
    assert kyc.mine(uow, MEMBER, TENANT).submission == uow.kyc.get(TENANT, again)
    queue = kyc.list_submissions(
        uow, ADMIN, TENANT, status=SubmissionStatus.PENDING, after=None, limit=10
    )
    assert [s.submission_id for s in queue] == [again]
    review(uow, again, "verify")
    assert status_of(uow) == KycStatus.VERIFIED


def test_one_identity_number_verifies_one_member() -> None:
    uow = mall()
    submit(uow)
    error = refused(uow, Conflict, lambda: submit(uow, SECOND))
    assert getattr(error, "field", None) == "id_number"
    submit(uow, SECOND, number=OTHER_ID)
    assert status_of(uow, SECOND) == KycStatus.PENDING


def test_a_number_whose_submission_was_rejected_may_be_used_by_another() -> None:
    uow = mall()
    sid = submit(uow)
    review(uow, sid, "reject", "不是本人")
    submit(uow, SECOND)
    assert status_of(uow, SECOND) == KycStatus.PENDING


def test_a_submission_whose_member_an_admin_changed_meanwhile_is_not_reviewed() -> None:
    uow = mall()
    sid = submit(uow)
    uow.people.users[(TENANT, MEMBER.subject_id)] = _user(MEMBER, KycStatus.NONE)
    error = refused(uow, Conflict, lambda: review(uow, sid, "verify"))
    assert getattr(error, "field", None) == "kyc_status"
