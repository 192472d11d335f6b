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

from sqlalchemy import Connection

from tokenmall.adapters.db.mall import access as repo
from tokenmall.domain.mall.access import AuditEntry, Caps
from tokenmall.domain.mall.people import Role, Scope
from tokenmall.domain.mall.withdrawals import THRESHOLD_COOLING
from tokenmall.domain.money import format_money
from tokenmall.services.mall import auth, events, ids, validate
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import InvalidInput
from tokenmall.services.mall.uow import Database, utc_now

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
    conn: Connection,
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
    repo.add_entry(
        conn,
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
    conn: Connection,
    caller: Principal | None,
    tenant_id: str,
    *,
    subject_id: str | None = None,
    before: str | None = None,
    limit: int = 50,
) -> list[AuditEntry]:
    """The tenant's audit trail, newest first (admins)."""
    require(caller, tenant_id, ADMIN, scope=Scope.READ)
    return repo.entries(
        conn, tenant_id, subject_id=subject_id, before=before, limit=min(limit, MAX_ENTRIES)
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
    conn: Connection, caller: Principal | None, tenant_id: str, limit: int = 100
) -> list[ReferralFlag]:
    """Inviter and invitee pairs that registered from the same client (admins)."""
    require(caller, tenant_id, ADMIN, scope=Scope.READ)
    return [
        ReferralFlag(invitee, inviter, "same_signup_client")
        for invitee, inviter, _ in repo.shared_mark_pairs(conn, tenant_id, limit)
    ]


# --- integration caps ---


def get_caps(conn: Connection, caller: Principal | None, tenant_id: str) -> Caps:
    require(caller, tenant_id, ADMIN, scope=Scope.READ)
    return repo.get_caps(conn, tenant_id)


def _cap(text: str | None, field: str) -> int | None:
    if text is None or text == "":
        return None
    return validate.money(text, field)


def update_caps(
    conn: Connection,
    caller: Principal | None,
    tenant_id: str,
    *,
    per_order: str | None,
    per_day: str | None,
    now: datetime,
) -> Caps:
    """Set both caps (an empty or missing one means no cap)."""
    who = require(caller, tenant_id, ADMIN)
    current = repo.get_caps(conn, tenant_id)
    changed = Caps(_cap(per_order, "per_order"), _cap(per_day, "per_day"), who.subject_id, now)
    repo.put_caps(conn, tenant_id, changed)
    record(
        conn,
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


def check_push(
    conn: Connection,
    who: Principal,
    tenant_id: str,
    orders: list[tuple[str, str]],
    now: datetime,
    field_of: str = "amount",
) -> CapExceeded | None:
    """The refusal of pushing ``orders`` ((external order id, amount) each) if one is above the
    per-order cap or together they take the day above the per-day cap; the refusal is also
    recorded (audit entry and a ``integration.cap_exceeded`` event) in ``conn``'s transaction,
    which the caller commits before answering. Orders already pushed are replays: not counted.
    """
    caps = repo.get_caps(conn, tenant_id)
    if caps.per_order_fen is None and caps.per_day_fen is None:
        return None
    fresh = []
    for position, (external_order_id, amount) in enumerate(orders):
        field = field_of if len(orders) == 1 else f"orders[{position}].amount"
        try:
            fen = validate.money(amount, field)
        except InvalidInput:
            continue  # the push itself refuses it, as it would without caps
        if not repo.order_pushed(conn, tenant_id, external_order_id):
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
        pushed = repo.pushed_since(conn, tenant_id, day_start(now))
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
        "per_order_cap": None if caps.per_order_fen is None else format_money(caps.per_order_fen),
        "per_day_cap": None if caps.per_day_fen is None else format_money(caps.per_day_fen),
    }
    events.emit(conn, tenant_id, CAP_EVENT, data, now)
    record(conn, tenant_id, who, CAP_REFUSED, tenant_id, before=None, after=data, now=now)
    return refusal


def guard_push(
    db: Database, tenant_id: str, token: str | None, orders: list[tuple[str, str]]
) -> None:
    """Refuse integration pushes above the tenant's caps (a no-op for a tenant without caps).

    Runs before the push: one read of the caps; with caps, the caller is authenticated (an
    alert is never raised for a stranger) and a refusal is recorded and committed before it
    is raised. Pushes racing each other may together pass the per-day cap by at most their
    own amounts; the per-order cap is exact.
    """
    if token is None:
        return  # the push itself answers 401
    with db.read() as conn:
        caps = repo.get_caps(conn, tenant_id)
    if caps.per_order_fen is None and caps.per_day_fen is None:
        return
    with db.transaction() as conn:
        now = utc_now()
        who = require(
            auth.authenticate(conn, token, now), tenant_id, ADMIN, scope=Scope.INTEGRATION
        )
        refusal = check_push(conn, who, tenant_id, orders, now)
    if refusal is not None:
        raise refusal


def cooling_note() -> str:
    hours = int(THRESHOLD_COOLING / timedelta(hours=1))
    return f"a raised threshold takes effect after {hours} h; a lowered one at once"
