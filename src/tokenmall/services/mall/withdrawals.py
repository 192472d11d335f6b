"""Withdrawals of users' cash balances with admin approval.

A request holds the cash in the ledger at once (``HoldWithdrawal``), after first repaying any
debt a commission clawback left (``RepayDebt``: debts come out of cash before anything leaves).
Admins approve or reject. Above the tenant's ``two_approver_threshold`` two distinct admins must
approve (one row per approver, keyed by the admin: the database refuses the same one twice). The
final approval pays out: through a channel to the requester's payee account when they have one
and a channel is configured (``payouts.py``: the withdrawal is ``paying`` until the channel
answers, and a failed payout returns the cash), else it is recorded as paid at once
(``PayWithdrawal``), with the reference of the transfer an admin made outside the platform when
given (a manual payout). A rejection returns the held cash (``ReleaseWithdrawal``). Nobody
decides on their own withdrawal.
Real-name (KYC) verification is required by default; each tenant's admins set it, the minimum
amount and the threshold (``mall_withdrawal_settings``); each change is audited.

Two-person control means another person: an approver may not be the requester, nor an admin
the requester created or promoted, nor one who became admin after the request
(``domain.mall.withdrawals.approver_refusal``, fed by the audit trail). The threshold that
applies is the strictest of those in force during the cooling window before the request, and
of the current one at each approval: raising it just before asking does not lower the
approvals needed.

A store's owner withdraws the store's cash (the royalties the market paid it) the same way,
naming the store: the row keeps the owner as the requester (``user_id``, what the two-person
rule reads) and the store as ``merchant_id``; every ledger command moves the store's cash
(``Withdrawal.holder``), never the owner's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from tokenmall.adapters.db.mall.rows import aware
from tokenmall.domain.errors import InsufficientBalance
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.mall.access import AuditEntry
from tokenmall.domain.mall.payouts import PAYOUT_CHANNELS
from tokenmall.domain.mall.people import KycStatus, Role, Scope
from tokenmall.domain.mall.transitions import WITHDRAWAL
from tokenmall.domain.mall.withdrawals import (
    THRESHOLD_COOLING,
    AdminHistory,
    Settings,
    Withdrawal,
    approvals_needed,
    approver_refusal,
    effective_threshold,
)
from tokenmall.domain.money import format_money
from tokenmall.services.mall import access, ids, payouts, validate
from tokenmall.services.mall.auth import Principal, actor, require
from tokenmall.services.mall.errors import Conflict, Forbidden, InvalidInput, NotFound
from tokenmall.services.mall.people import ADMIN, ALL
from tokenmall.services.unit_of_work import UnitOfWork


class KycRequired(Forbidden):
    """The tenant requires real-name verification before money leaves."""

    code = "kyc_required"


def _key(withdrawal_id: str, step: str) -> str:
    return f"withdrawal:{withdrawal_id}:{step}"


# -- settings -----------------------------------------------------------------------------------


def get_settings(uow: UnitOfWork, caller: Principal | None, tenant_id: str) -> Settings:
    require(caller, tenant_id, ADMIN, scope=Scope.READ)
    return uow.withdrawals.settings(tenant_id)


def update_settings(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    *,
    requires_kyc: bool | None,
    min_amount: str | None,
    two_approver_threshold: str | None,
    now: datetime,
) -> Settings:
    who = require(caller, tenant_id, ADMIN)
    if requires_kyc is None and min_amount is None and two_approver_threshold is None:
        raise InvalidInput(
            "give requires_kyc, min_amount and/or two_approver_threshold", "requires_kyc"
        )
    current = uow.withdrawals.settings(tenant_id)
    changed = replace(current, updated_by=who.subject_id, updated_at=now)
    if requires_kyc is not None:
        changed = replace(changed, requires_kyc=requires_kyc)
    if min_amount is not None:
        changed = replace(changed, min_amount_fen=validate.money(min_amount, "min_amount"))
    if two_approver_threshold is not None:
        fen = validate.money(two_approver_threshold, "two_approver_threshold")
        changed = replace(changed, two_approver_threshold_fen=fen)
    uow.withdrawals.put_settings(tenant_id, changed)
    uow.audit.add(
        tenant_id,
        AuditEntry(
            entry_id=ids.new_id("aud"),
            at=now,
            actor_id=who.subject_id,
            actor_via=who.trail_name,
            action=access.WITHDRAWAL_SETTINGS,
            subject_id=tenant_id,
            before=_settings_values(current),
            after=_settings_values(changed),
        ),
    )
    return changed


def _settings_values(settings: Settings) -> dict[str, object]:
    return {
        "requires_kyc": settings.requires_kyc,
        "min_amount_fen": settings.min_amount_fen,
        "two_approver_threshold_fen": settings.two_approver_threshold_fen,
    }


def threshold_now(uow: UnitOfWork, tenant_id: str, now: datetime) -> int:
    """The two-approver threshold that applies now (the strictest of the cooling window)."""
    current = uow.withdrawals.settings(tenant_id).two_approver_threshold_fen
    changes = uow.audit.since(tenant_id, (access.WITHDRAWAL_SETTINGS,), now - THRESHOLD_COOLING)
    in_force = []
    for entry in changes:
        value = (entry.before or {}).get("two_approver_threshold_fen")
        if isinstance(value, int):
            in_force.append(value)
    return effective_threshold(current, in_force)


def admin_history(
    uow: UnitOfWork, tenant_id: str, user_ids: Sequence[str]
) -> dict[str, AdminHistory]:
    """Who created or promoted each user, and since when each is an admin (from the trail)."""
    sponsors: dict[str, set[str]] = {u: set() for u in user_ids}
    since: dict[str, datetime | None] = dict.fromkeys(user_ids)
    actions = (access.USER_CREATE, access.USER_ROLE)
    for entry in uow.audit.about(tenant_id, user_ids, actions):
        made_admin = (entry.after or {}).get("role") == Role.ADMIN
        if entry.actor_id is not None and (entry.action == access.USER_CREATE or made_admin):
            sponsors[entry.subject_id].add(entry.actor_id)
        if made_admin and (entry.before or {}).get("role") != Role.ADMIN:
            since[entry.subject_id] = entry.at
    return {u: AdminHistory(u, frozenset(sponsors[u]), since[u]) for u in user_ids}


# -- requests -----------------------------------------------------------------------------------


def _store_of(uow: UnitOfWork, who: Principal, tenant_id: str, merchant_id: str) -> str:
    """The store whose cash its owner withdraws (only the owner: an admin neither)."""
    found = uow.catalogue.get_merchant(tenant_id, merchant_id)
    if found is None or found.owner_user_id != who.subject_id:
        raise NotFound(f"no merchant {merchant_id!r} of yours")
    return str(found.merchant_id)


def request(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    amount: str,
    now: datetime,
    merchant_id: str | None = None,
) -> Withdrawal:
    """Hold ``amount`` of the caller's cash for a withdrawal, after repaying their debt; with
    ``merchant_id``, of the caller's store's cash (its paid royalties, 版税收入)."""
    who = require(caller, tenant_id, ALL)
    fen = validate.money(amount, "amount")
    store = None if merchant_id is None else _store_of(uow, who, tenant_id, merchant_id)
    holder = who.subject_id if store is None else store
    settings = uow.withdrawals.settings(tenant_id)
    user = uow.people.get_user(tenant_id, who.subject_id)
    assert user is not None
    if settings.requires_kyc and user.kyc_status != KycStatus.VERIFIED:
        raise KycRequired(
            f"withdrawals need real-name (KYC) verification; yours is {user.kyc_status!r}",
            "kyc_status",
        )
    if fen < settings.min_amount_fen:
        raise InvalidInput(
            f"the smallest withdrawal is {format_money(settings.min_amount_fen)}", "amount"
        )
    uow.cash.lock_tenant(tenant_id)
    cash = uow.cash.cash_of(tenant_id, holder)
    withdrawal_id = ids.new_id("wdr")
    debt = uow.cash.debt_of(tenant_id, holder)
    repaid = min(debt, cash)
    if fen > cash - repaid:
        owed = f" after repaying {format_money(repaid)} of debt" if repaid else ""
        raise InsufficientBalance(
            f"you have {format_money(cash - repaid)} of cash to withdraw{owed}, "
            f"less than {format_money(fen)}"
        )
    if repaid:
        uow.cash.repay_debt(
            c.RepayDebt(
                tenant_id=tenant_id,
                idempotency_key=_key(withdrawal_id, "repay"),
                user=holder,
                amount_fen=repaid,
            ),
            now,
        )
    uow.cash.post(
        c.HoldWithdrawal(
            tenant_id=tenant_id,
            idempotency_key=_key(withdrawal_id, "hold"),
            user=holder,
            withdrawal_ref=withdrawal_id,
            amount_fen=fen,
        ),
    )
    uow.withdrawals.add(
        Withdrawal(
            tenant_id=tenant_id,
            withdrawal_id=withdrawal_id,
            user_id=who.subject_id,
            amount_fen=fen,
            debt_repaid_fen=repaid,
            status=WITHDRAWAL.initial,
            approvals_required=approvals_needed(fen, threshold_now(uow, tenant_id, now)),
            approved_by=(),
            decided_by=None,
            reason=None,
            created_at=now,
            decided_at=None,
            merchant_id=store,
        )
    )
    return _get(uow, tenant_id, withdrawal_id)


def _get(uow: UnitOfWork, tenant_id: str, withdrawal_id: str, lock: bool = False) -> Withdrawal:
    found = uow.withdrawals.get(tenant_id, withdrawal_id, for_update=lock)
    if found is None:
        raise NotFound(f"no withdrawal {withdrawal_id!r}")
    return found


def get(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, withdrawal_id: str
) -> Withdrawal:
    who = require(caller, tenant_id, ALL, scope=Scope.READ)
    found = _get(uow, tenant_id, withdrawal_id)
    if who.role != Role.ADMIN and found.user_id != who.subject_id:
        raise NotFound(f"no withdrawal {withdrawal_id!r}")
    return found


def list_withdrawals(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    *,
    status: str | None,
    user_id: str | None,
    after: str | None,
    limit: int,
    merchant_id: str | None = None,
    after_field: str = "after",
) -> list[Withdrawal]:
    """A member's own withdrawals; admins see everyone's (optionally one user's). With
    ``merchant_id``, only that store's: its owner's, or for an admin any store's. One page in
    id order after ``after``."""
    who = require(caller, tenant_id, ALL, scope=Scope.READ)
    after = validate.page(after, limit, field=after_field)
    if who.role != Role.ADMIN:
        user_id = who.subject_id
    if merchant_id is not None:
        store = uow.catalogue.get_merchant(tenant_id, merchant_id)
        if store is None or (who.role != Role.ADMIN and store.owner_user_id != who.subject_id):
            raise NotFound(f"no merchant {merchant_id!r} of yours", "merchant_id")
    return uow.withdrawals.list(
        tenant_id,
        user_id=user_id,
        status=status,
        after=after,
        limit=limit,
        merchant_id=merchant_id,
    )


def _pending_for(who: Principal, found: Withdrawal, verb: str) -> None:
    if found.user_id == who.subject_id:
        raise Forbidden(f"you cannot {verb} your own withdrawal; another admin must")
    WITHDRAWAL.check(found.status, verb, actor(who), withdrawal_id=found.withdrawal_id)


def _decide(
    uow: UnitOfWork,
    who: Principal,
    found: Withdrawal,
    command: type[c.PayWithdrawal] | type[c.ReleaseWithdrawal],
    step: str,
    *,
    action: str,
    reason: str | None,
    now: datetime,
) -> None:
    """Move the held cash (paid out or released) and record the decision, once."""
    status = WITHDRAWAL.check(found.status, action, actor(who), withdrawal_id=found.withdrawal_id)
    uow.cash.post(
        command(
            tenant_id=found.tenant_id,
            idempotency_key=_key(found.withdrawal_id, step),
            user=found.holder,
            withdrawal_ref=found.withdrawal_id,
            amount_fen=found.amount_fen,
        ),
    )
    if not uow.withdrawals.decide(
        found.tenant_id,
        found.withdrawal_id,
        status=status,
        decided_by=who.subject_id,
        reason=reason,
        decided_at=now,
    ):
        raise Conflict(f"withdrawal {found.withdrawal_id} was decided meanwhile")


def approve(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    withdrawal_id: str,
    now: datetime,
    *,
    through_channel: bool | frozenset[str] = False,
    manual_reference: str | None = None,
) -> Withdrawal:
    """One admin's approval; the last one needed pays the withdrawal out: with
    ``manual_reference``, as paid outside the platform; else, with ``through_channel`` (True, or
    the payee channels the tenant pays out through) and a payee account of such a channel
    registered, through the channel (the withdrawal is ``paying``); else paid at
    once."""
    who = require(caller, tenant_id, ADMIN)
    if manual_reference is not None:
        manual_reference = validate.text(manual_reference, "reference", max_length=200)
    uow.cash.lock_tenant(tenant_id)
    found = _get(uow, tenant_id, withdrawal_id, lock=True)
    _pending_for(who, found, "approve")
    if who.subject_id in found.approved_by:
        raise Conflict("you already approved this withdrawal; a second, different admin must")
    history = admin_history(uow, tenant_id, [who.subject_id])
    refusal = approver_refusal(
        requester=found.user_id,
        requested_at=aware(found.created_at),
        approver=history[who.subject_id],
    )
    if refusal is not None:
        raise Forbidden(refusal)
    # The stricter of the approvals needed when requested and under today's threshold.
    required = max(
        found.approvals_required,
        approvals_needed(found.amount_fen, threshold_now(uow, tenant_id, now)),
    )
    if not uow.withdrawals.add_approval(tenant_id, withdrawal_id, who.subject_id, now):
        raise Conflict("you already approved this withdrawal")
    if required > found.approvals_required:
        uow.withdrawals.require_approvals(tenant_id, withdrawal_id, required)
    if len(found.approved_by) + 1 >= required:
        _pay_out(uow, who, found, through_channel, manual_reference, now)
    return _get(uow, tenant_id, withdrawal_id)


def _pay_out(
    uow: UnitOfWork,
    who: Principal,
    found: Withdrawal,
    through_channel: bool | frozenset[str],
    manual_reference: str | None,
    now: datetime,
) -> None:
    if manual_reference is None and through_channel:
        payable = PAYOUT_CHANNELS if through_channel is True else through_channel or ()
        status = WITHDRAWAL.check(
            found.status, "pay_out", actor(who), withdrawal_id=found.withdrawal_id
        )
        if payouts.plan(uow, found, now, payable) is not None:
            if not uow.withdrawals.decide(
                found.tenant_id,
                found.withdrawal_id,
                status=status,
                decided_by=who.subject_id,
                reason=None,
                decided_at=now,
            ):
                raise Conflict(f"withdrawal {found.withdrawal_id} was decided meanwhile")
            return
    _decide(uow, who, found, c.PayWithdrawal, "paid", action="pay", reason=None, now=now)
    payouts.record_manual(uow, found, manual_reference, now)


def reject(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    withdrawal_id: str,
    reason: str,
    now: datetime,
) -> Withdrawal:
    """Refuse a pending withdrawal: the held cash returns to the user."""
    who = require(caller, tenant_id, ADMIN)
    text = validate.text(reason, "reason", max_length=500)
    uow.cash.lock_tenant(tenant_id)
    found = _get(uow, tenant_id, withdrawal_id, lock=True)
    _pending_for(who, found, "reject")
    _decide(uow, who, found, c.ReleaseWithdrawal, "release", action="reject", reason=text, now=now)
    return _get(uow, tenant_id, withdrawal_id)
