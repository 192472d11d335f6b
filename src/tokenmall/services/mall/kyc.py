"""Real-name verification (实名认证): a consumer submits, an admin reviews.

A consumer with no real-name status, or a rejected one, submits their name, identity number
and (optionally) mobile number: the values are checked (``domain/mall/kyc.py``), the full ones
sealed under the deployment's secret (bound to the tenant and the submission), and only the
masked ones are ever shown again. Their status becomes ``pending`` (the ``KYC`` table's
``submit``; never while pending or verified). An admin reviews the queue: verify, or reject
with a reason the consumer sees (``KYC_REVIEW``); the reviewer is recorded, and a rejected
consumer may submit again. One identity number verifies one member of a tenant. Every change
of status is written to the audit trail, as an admin's change of it is (``people.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from tokenmall.domain.mall import kyc as rules
from tokenmall.domain.mall.access import AuditEntry
from tokenmall.domain.mall.kyc import Identity, KycSubmission, SubmissionStatus
from tokenmall.domain.mall.people import KycStatus, Role, Scope
from tokenmall.domain.mall.transitions import KYC, KYC_REVIEW, Actor
from tokenmall.services.mall import access, ids
from tokenmall.services.mall.auth import Principal, actor, require
from tokenmall.services.mall.errors import Conflict, NotFound
from tokenmall.services.mall.people import ALL, bind_waiting_invitees
from tokenmall.services.mall.settling import BUSINESS_TZ
from tokenmall.services.unit_of_work import UnitOfWork

# Consumers submit their own; merchants' and admins' real-name status is set by an admin.
SUBMITTERS: tuple[Role, ...] = (Role.CONSUMER,)
REVIEWERS: tuple[Role, ...] = KYC_REVIEW.roles("verify")
# The statuses a consumer submits from: none, or rejected.
SUBMITTABLE: tuple[KycStatus, ...] = tuple(
    s for s in KycStatus if KYC.allows(s, "submit", Actor.CONSUMER)
)
# What a submission holds that is never stored, logged or hashed as it is.
PRIVATE_FIELDS = ("real_name", "id_number", "phone")
DECISIONS = {"verify": SubmissionStatus.VERIFIED, "reject": SubmissionStatus.REJECTED}


class Sealer(Protocol):
    """Sealing under the deployment's secret (``adapters/signing.py``'s ``Sealer``)."""

    def seal(self, tenant_id: str, plain: bytes, associated: bytes) -> bytes: ...

    def open(self, tenant_id: str, sealed: bytes, associated: bytes) -> bytes: ...

    def fingerprint(self, tenant_id: str, text: str) -> str: ...


@dataclass(frozen=True, slots=True)
class MyKyc:
    """A member's real-name status, whether withdrawals need it, and their latest submission
    (masked)."""

    kyc_status: KycStatus
    requires_kyc: bool
    submission: KycSubmission | None

    @property
    def may_submit(self) -> bool:
        return KYC.allows(self.kyc_status, "submit", Actor.CONSUMER)


def _bound_to(tenant_id: str, submission_id: str) -> bytes:
    """What a sealed value is bound to: copied to another row or tenant, it does not open."""
    return f"kyc/{tenant_id}/{submission_id}".encode()


def _audit(
    uow: UnitOfWork,
    tenant_id: str,
    who: Principal,
    subject_id: str,
    before: dict[str, object],
    after: dict[str, object],
    now: datetime,
) -> None:
    uow.audit.add(
        tenant_id,
        AuditEntry(
            entry_id=ids.new_id("aud"),
            at=now,
            actor_id=who.subject_id,
            actor_via=who.trail_name,
            action=access.USER_KYC,
            subject_id=subject_id,
            before=before,
            after=after,
        ),
    )


def mine(uow: UnitOfWork, caller: Principal | None, tenant_id: str) -> MyKyc:
    who = require(caller, tenant_id, ALL, scope=Scope.READ)
    user = uow.people.get_user(tenant_id, who.subject_id)
    assert user is not None
    return MyKyc(
        kyc_status=user.kyc_status,
        requires_kyc=uow.withdrawals.settings(tenant_id).requires_kyc,
        submission=uow.kyc.latest_of(tenant_id, who.subject_id),
    )


def submit(
    uow: UnitOfWork,
    sealer: Sealer,
    caller: Principal | None,
    tenant_id: str,
    *,
    real_name: str,
    id_number: str,
    phone: str | None,
    now: datetime,
) -> KycSubmission:
    """The consumer's real name and identity number, for an admin to review."""
    who = require(caller, tenant_id, SUBMITTERS)
    user = uow.people.get_user(tenant_id, who.subject_id)
    assert user is not None
    to = KYC.check(user.kyc_status, "submit", actor(who))
    identity = rules.identity(real_name, id_number, phone, now.astimezone(BUSINESS_TZ).date())
    fingerprint = sealer.fingerprint(tenant_id, identity.id_number)
    _refuse_taken(uow, tenant_id, fingerprint, who.subject_id)
    submission = KycSubmission(
        tenant_id=tenant_id,
        submission_id=ids.new_id("kyc"),
        user_id=who.subject_id,
        status=KYC_REVIEW.initial,
        name_masked=rules.mask_name(identity.real_name),
        id_masked=rules.mask_id(identity.id_number),
        phone_masked=rules.mask_phone(identity.phone),
        submitted_at=now,
    )
    plain = json.dumps(
        {"real_name": identity.real_name, "id_number": identity.id_number, "phone": identity.phone},
        ensure_ascii=False,
    ).encode()
    sealed = sealer.seal(tenant_id, plain, _bound_to(tenant_id, submission.submission_id))
    if not uow.kyc.claim(tenant_id, who.subject_id, SUBMITTABLE, to):
        raise Conflict(
            "your real-name status changed meanwhile; reload and try again", "kyc_status"
        )
    uow.kyc.add(submission, sealed=sealed, fingerprint=fingerprint)
    _audit(
        uow,
        tenant_id,
        who,
        who.subject_id,
        {"kyc_status": str(user.kyc_status)},
        {"kyc_status": str(to), "submission_id": submission.submission_id},
        now,
    )
    return submission


def _refuse_taken(uow: UnitOfWork, tenant_id: str, fingerprint: str, user_id: str) -> None:
    """One identity number, one member: refused while another member's submission of it is
    pending or verified."""
    for holder, status in uow.kyc.holders_of(tenant_id, fingerprint):
        if holder != user_id and status != SubmissionStatus.REJECTED:
            raise Conflict(
                "this identity number is already verified or under review for another account",
                "id_number",
            )


def list_submissions(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    *,
    status: SubmissionStatus | None,
    after: str | None,
    limit: int,
) -> list[KycSubmission]:
    """The review queue (``status`` pending) or any other list, the oldest first (admins)."""
    require(caller, tenant_id, REVIEWERS, scope=Scope.READ)
    return uow.kyc.find(tenant_id, status=status, after=after, limit=limit)


def get_submission(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, submission_id: str
) -> KycSubmission:
    require(caller, tenant_id, REVIEWERS, scope=Scope.READ)
    found = uow.kyc.get(tenant_id, submission_id)
    if found is None:
        raise NotFound(f"no real-name submission {submission_id!r}", "submission_id")
    return found


def review(
    uow: UnitOfWork,
    sealer: Sealer,
    caller: Principal | None,
    tenant_id: str,
    submission_id: str,
    *,
    decision: str,
    reason: str | None,
    now: datetime,
) -> KycSubmission:
    """An admin verifies (``decision`` "verify") or rejects ("reject", with a reason shown to
    the member) a pending submission; the member's status follows it."""
    who = require(caller, tenant_id, REVIEWERS)
    if decision not in DECISIONS:
        raise ValueError(f"no decision {decision!r}")
    found = uow.kyc.get(tenant_id, submission_id)
    if found is None:
        raise NotFound(f"no real-name submission {submission_id!r}", "submission_id")
    status = KYC_REVIEW.check(found.status, decision, actor(who))
    why = rules.reason(reason or "") if status == SubmissionStatus.REJECTED else None
    user = uow.people.get_user(tenant_id, found.user_id)
    assert user is not None
    if user.kyc_status != KycStatus.PENDING:
        raise Conflict(
            f"the member's real-name status is {user.kyc_status} now (an admin set it): "
            "this submission can no longer be reviewed",
            "kyc_status",
        )
    to = KYC.check(user.kyc_status, decision, actor(who), doing=decision)
    if status == SubmissionStatus.VERIFIED:
        _refuse_taken(uow, tenant_id, _fingerprint_of(uow, sealer, found), found.user_id)
    decided = uow.kyc.decide(
        tenant_id,
        submission_id,
        status=status,
        reason=why,
        reviewed_by=who.subject_id,
        reviewed_at=now,
    )
    if not decided or not uow.kyc.claim(tenant_id, found.user_id, (KycStatus.PENDING,), to):
        raise Conflict("the submission was reviewed meanwhile; reload", "submission_id")
    _audit(
        uow,
        tenant_id,
        who,
        found.user_id,
        {"kyc_status": str(user.kyc_status)},
        {"kyc_status": str(to), "submission_id": submission_id, "reason": why},
        now,
    )
    if to == KycStatus.VERIFIED:
        bind_waiting_invitees(uow, tenant_id, found.user_id)
    done = uow.kyc.get(tenant_id, submission_id)
    assert done is not None
    return done


def _opened(uow: UnitOfWork, sealer: Sealer, found: KycSubmission) -> Identity:
    sealed = uow.kyc.sealed(found.tenant_id, found.submission_id)
    assert sealed is not None
    plain = json.loads(
        sealer.open(found.tenant_id, sealed, _bound_to(found.tenant_id, found.submission_id))
    )
    return Identity(plain["real_name"], plain["id_number"], plain["phone"])


def _fingerprint_of(uow: UnitOfWork, sealer: Sealer, found: KycSubmission) -> str:
    return sealer.fingerprint(found.tenant_id, _opened(uow, sealer, found).id_number)


def verified_name(uow: UnitOfWork, sealer: Sealer, tenant_id: str, user_id: str) -> str | None:
    """The real name of the member's verified submission (None: verified by an admin without
    one, or not verified)."""
    user = uow.people.get_user(tenant_id, user_id)
    if user is None or user.kyc_status != KycStatus.VERIFIED:
        return None
    found = uow.kyc.latest_of(tenant_id, user_id)
    if found is None or found.status != SubmissionStatus.VERIFIED:
        return None
    return _opened(uow, sealer, found).real_name
