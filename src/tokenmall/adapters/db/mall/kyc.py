"""Real-name submissions (实名认证): the masked values shown, the full ones sealed.

``sealed`` is the name, the identity number and the phone as JSON, sealed under the
deployment's secret (``adapters/signing.py``, bound to the tenant and the submission's id);
``id_fingerprint`` a keyed digest of the identity number, so one number verifies one member of
a tenant. The member's ``mall_users.kyc_status`` follows their latest submission; ``claim``
moves it only from the statuses a submission may start from, so of two racing submissions one
wins. Migration 0021.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    Connection,
    DateTime,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    insert,
    select,
    update,
)

from tokenmall.adapters.db.mall.rows import aware, maybe_aware
from tokenmall.adapters.db.mall.tables import ID, TENANT_ID, metadata, users
from tokenmall.domain.mall.kyc import KycSubmission, SubmissionStatus
from tokenmall.domain.mall.people import KycStatus


def _at(name: str, nullable: bool = False) -> Column[Any]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


kyc_submissions = Table(
    "kyc_submissions",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("submission_id", String(ID), nullable=False),
    Column("user_id", String(ID), nullable=False),
    Column("status", String(16), nullable=False),
    Column("name_masked", String(60), nullable=False),
    Column("id_masked", String(18), nullable=False),
    Column("phone_masked", String(11), nullable=True),
    Column("id_fingerprint", String(64), nullable=False),
    Column("sealed", LargeBinary, nullable=False),
    Column("reason", String(200), nullable=True),
    Column("reviewed_by", String(ID), nullable=True),
    _at("submitted_at"),
    _at("reviewed_at", nullable=True),
    PrimaryKeyConstraint("tenant_id", "submission_id", name="pk_kyc_submissions"),
    CheckConstraint(
        "status IN ('pending', 'verified', 'rejected')", name="ck_kyc_submissions_status"
    ),
    ForeignKeyConstraint(
        ["tenant_id", "user_id"],
        ["mall_users.tenant_id", "mall_users.user_id"],
        name="fk_kyc_submissions_user",
    ),
    Index("ix_kyc_submissions_status", "tenant_id", "status", "submission_id"),
    Index("ix_kyc_submissions_user", "tenant_id", "user_id", "submission_id"),
    Index("ix_kyc_submissions_fingerprint", "tenant_id", "id_fingerprint"),
)

_SHOWN = (
    kyc_submissions.c.tenant_id,
    kyc_submissions.c.submission_id,
    kyc_submissions.c.user_id,
    kyc_submissions.c.status,
    kyc_submissions.c.name_masked,
    kyc_submissions.c.id_masked,
    kyc_submissions.c.phone_masked,
    kyc_submissions.c.submitted_at,
    kyc_submissions.c.reason,
    kyc_submissions.c.reviewed_by,
    kyc_submissions.c.reviewed_at,
)


def _submission(row: Any) -> KycSubmission:
    return KycSubmission(
        tenant_id=row.tenant_id,
        submission_id=row.submission_id,
        user_id=row.user_id,
        status=SubmissionStatus(row.status),
        name_masked=row.name_masked,
        id_masked=row.id_masked,
        phone_masked=row.phone_masked,
        submitted_at=aware(row.submitted_at),
        reason=row.reason,
        reviewed_by=row.reviewed_by,
        reviewed_at=maybe_aware(row.reviewed_at),
    )


class SqlKyc:
    """The ``Kyc`` port of the unit of work (``services/unit_of_work_people.py``)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def claim(
        self, tenant_id: str, user_id: str, sources: tuple[KycStatus, ...], to: KycStatus
    ) -> bool:
        found = self.conn.execute(
            update(users)
            .where(
                users.c.tenant_id == tenant_id,
                users.c.user_id == user_id,
                users.c.kyc_status.in_([str(s) for s in sources]),
            )
            .values(kyc_status=str(to))
        )
        return found.rowcount == 1

    def add(self, submission: KycSubmission, *, sealed: bytes, fingerprint: str) -> None:
        self.conn.execute(
            insert(kyc_submissions).values(
                tenant_id=submission.tenant_id,
                submission_id=submission.submission_id,
                user_id=submission.user_id,
                status=str(submission.status),
                name_masked=submission.name_masked,
                id_masked=submission.id_masked,
                phone_masked=submission.phone_masked,
                id_fingerprint=fingerprint,
                sealed=sealed,
                submitted_at=submission.submitted_at,
            )
        )

    def get(self, tenant_id: str, submission_id: str) -> KycSubmission | None:
        row = self.conn.execute(
            select(*_SHOWN).where(
                kyc_submissions.c.tenant_id == tenant_id,
                kyc_submissions.c.submission_id == submission_id,
            )
        ).first()
        return None if row is None else _submission(row)

    def latest_of(self, tenant_id: str, user_id: str) -> KycSubmission | None:
        row = self.conn.execute(
            select(*_SHOWN)
            .where(kyc_submissions.c.tenant_id == tenant_id, kyc_submissions.c.user_id == user_id)
            .order_by(kyc_submissions.c.submission_id.desc())
            .limit(1)
        ).first()
        return None if row is None else _submission(row)

    def find(
        self, tenant_id: str, *, status: SubmissionStatus | None, after: str | None, limit: int
    ) -> list[KycSubmission]:
        query = select(*_SHOWN).where(kyc_submissions.c.tenant_id == tenant_id)
        if status is not None:
            query = query.where(kyc_submissions.c.status == str(status))
        if after is not None:
            query = query.where(kyc_submissions.c.submission_id > after)
        rows = self.conn.execute(query.order_by(kyc_submissions.c.submission_id).limit(limit)).all()
        return [_submission(r) for r in rows]

    def holders_of(self, tenant_id: str, fingerprint: str) -> list[tuple[str, SubmissionStatus]]:
        rows = self.conn.execute(
            select(kyc_submissions.c.user_id, kyc_submissions.c.status).where(
                kyc_submissions.c.tenant_id == tenant_id,
                kyc_submissions.c.id_fingerprint == fingerprint,
            )
        ).all()
        return [(r.user_id, SubmissionStatus(r.status)) for r in rows]

    def sealed(self, tenant_id: str, submission_id: str) -> bytes | None:
        found = self.conn.execute(
            select(kyc_submissions.c.sealed).where(
                kyc_submissions.c.tenant_id == tenant_id,
                kyc_submissions.c.submission_id == submission_id,
            )
        ).scalar_one_or_none()
        return None if found is None else bytes(found)

    def decide(
        self,
        tenant_id: str,
        submission_id: str,
        *,
        status: SubmissionStatus,
        reason: str | None,
        reviewed_by: str,
        reviewed_at: datetime,
    ) -> bool:
        found = self.conn.execute(
            update(kyc_submissions)
            .where(
                kyc_submissions.c.tenant_id == tenant_id,
                kyc_submissions.c.submission_id == submission_id,
                kyc_submissions.c.status == str(SubmissionStatus.PENDING),
            )
            .values(
                status=str(status),
                reason=reason,
                reviewed_by=reviewed_by,
                reviewed_at=reviewed_at,
            )
        )
        return found.rowcount == 1
