"""Request and response models of real-name verification (实名认证): masked values only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from tokenmall.domain.mall.kyc import KycSubmission
from tokenmall.services.mall.kyc import MyKyc
from tokenmall.web.api.schemas import KycStatus, Request, Response

SubmissionStatus = Literal["pending", "verified", "rejected"]


class KycIn(Request):
    real_name: Annotated[
        str, Field(max_length=200, description="The name on the identity card", examples=["张三"])
    ]
    id_number: Annotated[
        str,
        Field(
            max_length=40,
            description="The 18-character resident identity number (GB 11643; its check "
            "character verified, X allowed)",
            examples=["11010519491231002X"],
        ),
    ]
    phone: Annotated[
        str | None,
        Field(max_length=30, description="Optional mainland mobile number", examples=[None]),
    ] = None


class KycRejectIn(Request):
    reason: Annotated[str, Field(max_length=500, description="Shown to the member")]


class KycSubmissionOut(Response):
    submission_id: str
    user_id: str
    status: SubmissionStatus
    name_masked: str = Field(description="The name masked: 张*")
    id_masked: str = Field(description="The identity number masked: 1101**********1234")
    phone_masked: str | None
    reason: str | None = Field(description="Why it was rejected")
    submitted_at: datetime
    reviewed_by: str | None = Field(description="The admin who reviewed it")
    reviewed_at: datetime | None

    @classmethod
    def of(cls, s: KycSubmission) -> KycSubmissionOut:
        return cls(
            submission_id=s.submission_id,
            user_id=s.user_id,
            status=s.status.value,
            name_masked=s.name_masked,
            id_masked=s.id_masked,
            phone_masked=s.phone_masked,
            reason=s.reason,
            submitted_at=s.submitted_at,
            reviewed_by=s.reviewed_by,
            reviewed_at=s.reviewed_at,
        )


class KycSubmissionPage(Response):
    items: list[KycSubmissionOut]
    next_after: str | None


class MyKycOut(Response):
    kyc_status: KycStatus
    requires_kyc: bool = Field(description="Whether withdrawals need real-name verification")
    may_submit: bool = Field(description="Whether a submission is possible now")
    submission: KycSubmissionOut | None = Field(description="The latest submission, masked")

    @classmethod
    def of(cls, mine: MyKyc) -> MyKycOut:
        return cls(
            kyc_status=mine.kyc_status.value,
            requires_kyc=mine.requires_kyc,
            may_submit=mine.may_submit,
            submission=None if mine.submission is None else KycSubmissionOut.of(mine.submission),
        )
