"""Request and response models of access control: the audit trail, integration caps, flags."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from tokenmall.domain.mall.access import AuditEntry, Caps
from tokenmall.domain.money import format_money
from tokenmall.services.mall.access import ReferralFlag
from tokenmall.web.api.schemas import MoneyText, Request, Response


class AuditEntryOut(Response):
    entry_id: str
    at: datetime
    actor_id: str | None = Field(description="The user who acted; null: the system")
    actor_via: str = Field(description="session, api_key:<key id> or system")
    action: str
    subject_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryOut:
        return cls(
            entry_id=entry.entry_id,
            at=entry.at,
            actor_id=entry.actor_id,
            actor_via=entry.actor_via,
            action=entry.action,
            subject_id=entry.subject_id,
            before=entry.before,
            after=entry.after,
        )


class AuditPage(Response):
    items: list[AuditEntryOut]
    next_before: str | None


class CapsIn(Request):
    per_order: MoneyText | None = None
    per_day: MoneyText | None = None


class CapsOut(Response):
    per_order: str | None
    per_day: str | None
    updated_by: str | None
    updated_at: datetime | None

    @classmethod
    def of(cls, caps: Caps) -> CapsOut:
        return cls(
            per_order=None if caps.per_order_fen is None else format_money(caps.per_order_fen),
            per_day=None if caps.per_day_fen is None else format_money(caps.per_day_fen),
            updated_by=caps.updated_by,
            updated_at=caps.updated_at,
        )


class ReferralFlagOut(Response):
    invitee_id: str
    inviter_id: str
    reason: str

    @classmethod
    def of(cls, flag: ReferralFlag) -> ReferralFlagOut:
        return cls(invitee_id=flag.invitee_id, inviter_id=flag.inviter_id, reason=flag.reason)


class ReferralFlagList(Response):
    items: list[ReferralFlagOut]
