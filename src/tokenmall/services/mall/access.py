"""Access control's records: the audit trail, admins' history, integration caps, signup marks.

Every change of a role, a KYC status, the withdrawal settings, an API key or the integration
caps writes one audit entry (who, with which credential, when, before and after) in the
change's own transaction. The two-person rule of withdrawals reads admins' history from it:
who created or promoted whom, and since when someone is an admin.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tokenmall.domain.mall.access import AuditEntry, Caps
from tokenmall.domain.mall.people import Role, Scope
from tokenmall.domain.mall.withdrawals import THRESHOLD_COOLING
from tokenmall.domain.money import format_money
from tokenmall.services.mall import ids, validate
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import InvalidInput
from tokenmall.services.unit_of_work import UnitOfWork, Units

ADMIN: tuple[Role, ...] = (Role.ADMIN,)

USER_CREATE = "user.create"
USER_ROLE = "user.role"
USER_KYC = "user.kyc"
WITHDRAWAL_SETTINGS = "settings.withdrawal"
INTEGRATION_CAPS = "settings.integration_caps"
KEY_CREATE = "api_key.create"
KEY_REVOKE = "api_key.revoke"
CAP_REFUSED = "integration.cap_refused"
CAP_EVENT = "integration.cap_exceeded"

MAX_ENTRIES = 200


def record(
    uow: UnitOfWork,
    tenant_id: str,
    who: Principal | None,
    action: str,
    subject_id: str,
    *,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    now: datetime,
) -> None:
    """One audit entry, in the caller's transaction (it commits with the change or not at all)."""
    uow.audit.add(
        tenant_id,
        AuditEntry(
            entry_id=ids.new_id("aud"),
            at=now,
            actor_id=None if who is None else who.subject_id,
            actor_via="system" if who is None else who.trail_name,
            action=action,
            subject_id=subject_id,
            before=before,
            after=after,
        ),
    )


def trail(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    *,
    subject_id: str | None = None,
    before: str | None = None,
    limit: int = 50,
) -> list[AuditEntry]:
    """The tenant's audit trail, newest first (admins)."""
    require(caller, tenant_id, ADMIN, scope=Scope.READ)
    return uow.access.trail(
        tenant_id, subject_id=subject_id, before=before, limit=min(limit, MAX_ENTRIES)
    )


# --- signup marks and self-referral flags ---


def fingerprint(address: str | None, user_agent: str | None) -> str | None:
    """A hash of the client a user registered from (None when nothing is known)."""
    if not address and not user_agent:
        return None
    text = f"{address or ''}\n{user_agent or ''}"
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True, slots=True)
class ReferralFlag:
    invitee_id: str
    inviter_id: str
    reason: str


def referral_flags(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, limit: int = 100
) -> list[ReferralFlag]:
    """Inviter and invitee pairs that registered from the same client (admins)."""
    require(caller, tenant_id, ADMIN, scope=Scope.READ)
    return [
        ReferralFlag(invitee, inviter, "same_signup_client")
        for invitee, inviter, _ in uow.access.shared_signups(tenant_id, limit)
    ]


# --- integration caps ---


def get_caps(uow: UnitOfWork, caller: Principal | None, tenant_id: str) -> Caps:
    require(caller, tenant_id, ADMIN, scope=Scope.READ)
    return uow.access.caps(tenant_id)


def _cap(text: str | None, field: str) -> int | None:
    if text is None or text == "":
        return None
    return validate.money(text, field)


def update_caps(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    *,
    per_order: str | None,
    per_day: str | None,
    now: datetime,
) -> Caps:
    """Set both caps (an empty or missing one means no cap)."""
    who = require(caller, tenant_id, ADMIN)
    current = uow.access.caps(tenant_id)
    changed = Caps(_cap(per_order, "per_order"), _cap(per_day, "per_day"), who.subject_id, now)
    uow.access.put_caps(tenant_id, changed)
    record(
        uow,
        tenant_id,
        who,
        INTEGRATION_CAPS,
        tenant_id,
        before={"per_order_fen": current.per_order_fen, "per_day_fen": current.per_day_fen},
        after={"per_order_fen": changed.per_order_fen, "per_day_fen": changed.per_day_fen},
        now=now,
    )
    return changed


class CapExceeded(InvalidInput):
    """An integration push above the tenant's per-order or per-day cap."""

    code = "cap_exceeded"


def day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class CapRefusal:
    """A push the caps refuse: the error it is answered with and the alert's data, which
    ``record_refusal`` writes (an audit entry and an ``integration.cap_exceeded`` event)."""

    error: CapExceeded
    data: dict[str, Any]


class PushCaps:
    """A tenant's integration caps, read in a push's own read transaction, and the checks of
    pushes against them. Without caps (the usual case) that one read is all it costs.

    Each check counts only the orders not pushed before (a replay is not more of the day) and
    compares against what is committed: pushes racing each other may together pass the
    per-day cap by at most their own amounts; the per-order cap is exact.
    """

    def __init__(self, uow: UnitOfWork, tenant_id: str, now: datetime) -> None:
        self.records = uow.access
        self.tenant_id = tenant_id
        self.now = now
        self.caps = self.records.caps(tenant_id)
        self._pushed: set[str] = set()
        self._looked_up: set[str] = set()
        self._day_total: int | None = None

    @property
    def any(self) -> bool:
        """Whether the tenant has a cap at all (without one, nothing is ever refused)."""
        return self.caps.per_order_fen is not None or self.caps.per_day_fen is not None

    def look_up(self, external_order_ids: list[str]) -> None:
        """Read at once which of these orders were pushed before (for the checks to come)."""
        wanted = [oid for oid in dict.fromkeys(external_order_ids) if oid not in self._looked_up]
        if wanted:
            self._pushed |= self.records.pushed_orders(self.tenant_id, wanted)
            self._looked_up.update(wanted)

    def refusal(self, orders: list[tuple[str, str]], field_of: str = "amount") -> CapRefusal | None:
        """The refusal of pushing ``orders`` ((external order id, amount) each) if one is
        above the per-order cap or together they take the day above the per-day cap. An
        amount that does not parse is left to the push's own refusal."""
        if not self.any:
            return None
        caps = self.caps
        fresh = []
        self.look_up([oid for oid, _ in orders])
        for position, (external_order_id, amount) in enumerate(orders):
            field = field_of if len(orders) == 1 else f"orders[{position}].amount"
            try:
                fen = validate.money(amount, field)
            except InvalidInput:
                continue  # the push itself refuses it, as it would without caps
            if external_order_id not in self._pushed:
                fresh.append((external_order_id, fen, field))
        refusal = None
        for _, fen, field in fresh:
            if caps.per_order_fen is not None and fen > caps.per_order_fen:
                refusal = CapExceeded(
                    f"{format_money(fen)} is above the per-order cap of "
                    f"{format_money(caps.per_order_fen)} for integration orders",
                    field,
                )
                break
        if refusal is None and caps.per_day_fen is not None and fresh:
            if self._day_total is None:
                self._day_total = self.records.pushed_since(self.tenant_id, day_start(self.now))
            pushed = self._day_total
            total = sum(fen for _, fen, _ in fresh)
            if pushed + total > caps.per_day_fen:
                refusal = CapExceeded(
                    f"today's integration orders would reach {format_money(pushed + total)}, "
                    f"above the per-day cap of {format_money(caps.per_day_fen)}",
                    fresh[0][2],
                )
        if refusal is None:
            return None
        data = {
            "orders": [o for o, _, _ in fresh],
            "field": refusal.field,
            "message": str(refusal),
            "per_order_cap": None
            if caps.per_order_fen is None
            else format_money(caps.per_order_fen),
            "per_day_cap": None if caps.per_day_fen is None else format_money(caps.per_day_fen),
        }
        return CapRefusal(refusal, data)


def push_refusal(
    uow: UnitOfWork,
    caller: Principal,
    tenant_id: str,
    orders: list[tuple[str, str]],
    now: datetime,
) -> CapRefusal | None:
    """The caps' refusal of one push (a single order or a batch), checked in the push's own
    read transaction before its Idempotency-Key is looked up. With caps, the caller must be
    let through first (an alert is never raised for a stranger or a key without the
    ``integration`` scope: those are refused as the push itself refuses them)."""
    caps = PushCaps(uow, tenant_id, now)
    if not caps.any:
        return None
    require(caller, tenant_id, ADMIN, scope=Scope.INTEGRATION)
    return caps.refusal(orders)


class OverCaps(Exception):
    """A push refused by the caps inside its own transaction (which rolls back): the caller
    records the alert (``refuse``) after it and raises ``refusal.error``."""

    def __init__(self, who: Principal, refusal: CapRefusal, now: datetime) -> None:
        super().__init__(str(refusal.error))
        self.who = who
        self.refusal = refusal
        self.now = now


def within_caps(
    uow: UnitOfWork,
    caller: Principal,
    tenant_id: str,
    orders: list[tuple[str, str]],
    now: datetime,
) -> None:
    """``push_refusal`` in a push's own (write) transaction: raises ``OverCaps``."""
    refusal = push_refusal(uow, caller, tenant_id, orders, now)
    if refusal is not None:
        raise OverCaps(caller, refusal, now)


def record_refusal(
    uow: UnitOfWork, who: Principal, tenant_id: str, refusal: CapRefusal, now: datetime
) -> None:
    """The alert of a refused push (an ``integration.cap_exceeded`` event and an audit entry),
    in the unit's transaction, which the caller commits before answering the refusal."""
    uow.outbox.emit(tenant_id, CAP_EVENT, refusal.data, now)
    record(uow, tenant_id, who, CAP_REFUSED, tenant_id, before=None, after=refusal.data, now=now)


def refuse(
    db: Units, who: Principal, tenant_id: str, refusal: CapRefusal, now: datetime
) -> CapExceeded:
    """Record the refusal's alert in a transaction of its own (committed) and return its
    error for the caller to raise."""
    with db.unit() as uow:
        record_refusal(uow, who, tenant_id, refusal, now)
    return refusal.error


def cooling_note() -> str:
    hours = int(THRESHOLD_COOLING / timedelta(hours=1))
    return f"a raised threshold takes effect after {hours} h; a lowered one at once"
