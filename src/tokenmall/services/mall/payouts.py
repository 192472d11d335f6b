"""Payouts of approved withdrawals to the person's payee account, through a channel.

A person registers one payee account (``register_payee``): a channel and its account, and
the real name the channel checks, which must be the name of their verified real-name
submission; both are sealed under the deployment secret, and only the masked account is
shown again. The last approval of a withdrawal whose requester has one (and a channel to pay
through) makes its payout (``plan``): the withdrawal becomes ``paying`` and its cash stays
held. ``send`` then asks the channel, outside any transaction, under the payout's id (the
channel's idempotency key, so a retry never pays twice), and books its answer in a unit of
its own (``apply``): paid, the held cash leaves (``PayWithdrawal``); failed, it returns to the
person's cash (``ReleaseWithdrawal``, a balanced journal as a rejection's) with the channel's
reason; still processing, the scheduler asks again (``retry_processing``). An admin may
instead pay outside the platform and approve with the transfer's reference (a manual payout).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from tokenmall.domain.ledger import commands as c
from tokenmall.domain.mall.payouts import (
    MANUAL,
    PAYOUT_CHANNELS,
    Payout,
    PayoutResult,
    PayoutStatus,
    mask_account,
    names_match,
)
from tokenmall.domain.mall.people import Scope
from tokenmall.domain.mall.transitions import WITHDRAWAL, Actor
from tokenmall.domain.mall.withdrawals import Withdrawal, WithdrawalStatus
from tokenmall.services.mall import ids, validate
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import Forbidden, InvalidInput, NotFound
from tokenmall.services.mall.kyc import Sealer, verified_name
from tokenmall.services.mall.people import ADMIN, ALL
from tokenmall.services.mall.uow import Database
from tokenmall.services.unit_of_work import UnitOfWork
from tokenmall.services.unit_of_work_payouts import PayoutChannels

log = logging.getLogger("tokenmall.payouts")

_ACCOUNT = {
    # an openid of the shop's WeChat app
    "wechat": re.compile(r"^[A-Za-z0-9_-]{6,64}$"),
    # an Alipay login: an e-mail address or a mobile number
    "alipay": re.compile(
        r"^(?:[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,}|1\d{10})$"
    ),
}


class PayeeNotVerified(Forbidden):
    """Payouts go only to a person whose real name is verified."""

    code = "kyc_required"


@dataclass(frozen=True, slots=True)
class Payee:
    """A payee account as pages and the API show it (the account masked)."""

    channel: str
    account_masked: str
    updated_at: datetime


def _bound_to(tenant_id: str, user_id: str) -> bytes:
    return f"payee/{tenant_id}/{user_id}".encode()


def register_payee(
    uow: UnitOfWork,
    sealer: Sealer,
    caller: Principal | None,
    tenant_id: str,
    *,
    channel: str,
    account: str,
    real_name: str,
    now: datetime,
) -> Payee:
    """Set (or replace) the caller's payee account."""
    who = require(caller, tenant_id, ALL)
    if channel not in PAYOUT_CHANNELS:
        raise InvalidInput(f"channel must be one of {', '.join(PAYOUT_CHANNELS)}", "channel")
    account = validate.text(account, "account", max_length=200)
    if not _ACCOUNT[channel].match(account):
        what = "an openid" if channel == "wechat" else "an e-mail address or mobile number"
        raise InvalidInput(f"account must be {what} for {channel}", "account")
    name = validate.text(real_name, "real_name", max_length=60)
    verified = verified_name(uow, sealer, tenant_id, who.subject_id)
    if verified is None:
        raise PayeeNotVerified(
            "a payee account needs your real name verified (KYC) first", "kyc_status"
        )
    if not names_match(name, verified):
        raise InvalidInput("real_name must be the name your real-name check verified", "real_name")
    plain = json.dumps({"account": account, "real_name": verified}).encode()
    sealed = sealer.seal(tenant_id, plain, _bound_to(tenant_id, who.subject_id))
    masked = mask_account(account)
    uow.payouts.put_payee(
        tenant_id, who.subject_id, channel=channel, account_masked=masked, sealed=sealed, now=now
    )
    return Payee(channel, masked, now)


def my_payee(uow: UnitOfWork, caller: Principal | None, tenant_id: str) -> Payee | None:
    who = require(caller, tenant_id, ALL, scope=Scope.READ)
    found = uow.payouts.payee(tenant_id, who.subject_id)
    return None if found is None else Payee(found[0], found[1], found[3])


# -- at the last approval -----------------------------------------------------------------------


def plan(
    uow: UnitOfWork,
    found: Withdrawal,
    now: datetime,
    payable: Collection[str] = PAYOUT_CHANNELS,
) -> Payout | None:
    """The channel payout of ``found`` to its requester's payee account (None: no account,
    or the tenant cannot pay its channel out); stored ``processing`` before anything is sent."""
    payee = uow.payouts.payee(found.tenant_id, found.user_id)
    if payee is None or payee[0] not in payable:
        return None
    channel, masked, sealed, _ = payee
    payout = _payout(found, channel, masked, None, PayoutStatus.PROCESSING, now)
    uow.payouts.add(payout, sealed)
    return payout


def record_manual(uow: UnitOfWork, found: Withdrawal, reference: str | None, now: datetime) -> None:
    """A withdrawal paid outside the platform: its payout, done, with the reference."""
    uow.payouts.add(_payout(found, MANUAL, None, reference, PayoutStatus.SUCCEEDED, now), None)


def _payout(
    found: Withdrawal,
    channel: str,
    masked: str | None,
    reference: str | None,
    status: PayoutStatus,
    now: datetime,
) -> Payout:
    return Payout(
        tenant_id=found.tenant_id,
        payout_id=ids.new_id("po"),
        withdrawal_id=found.withdrawal_id,
        user_id=found.user_id,
        channel=channel,
        account_masked=masked,
        amount_fen=found.amount_fen,
        status=status,
        channel_ref=None,
        reference=reference,
        reason=None,
        attempts=0,
        created_at=now,
        updated_at=now,
    )


# -- sending and booking the answer -------------------------------------------------------------


def send(
    db: Database,
    channels: PayoutChannels,
    sealer: Sealer,
    tenant_id: str,
    payout_id: str,
    now: datetime,
) -> Payout:
    """Ask the channel to pay a processing payout (again), then book its answer. With no way
    to pay it now (the tenant switched its channel off), it stays processing."""
    with db.reading() as uow:
        payout = uow.payouts.get(tenant_id, payout_id)
        sealed = uow.payouts.sealed(tenant_id, payout_id)
    if payout is None:
        raise NotFound(f"no payout {payout_id!r}", "payout_id")
    if payout.status != PayoutStatus.PROCESSING or sealed is None:
        return payout
    channel = channels.of(
        tenant_id, payout.channel, channel_ref=payout.channel_ref, retry=payout.attempts > 0
    )
    if channel is None:
        log.warning("payout %s: no %s channel to pay through now", payout_id, payout.channel)
        return payout
    details = json.loads(sealer.open(tenant_id, sealed, _bound_to(tenant_id, payout.user_id)))
    try:
        result = channel.transfer(
            payout_id=payout.payout_id,
            amount_fen=payout.amount_fen,
            channel=payout.channel,
            payee_account=details["account"],
            payee_real_name=details["real_name"],
            remark=f"withdrawal {payout.withdrawal_id}",
        )
    except Exception as exc:  # the channel did not answer: the payout stays processing
        log.warning("payout %s: the channel did not answer (%s)", payout_id, type(exc).__name__)
        result = PayoutResult(PayoutStatus.PROCESSING)
    with db.unit() as uow:
        return apply(uow, tenant_id, payout_id, result, now)


def apply(
    uow: UnitOfWork, tenant_id: str, payout_id: str, result: PayoutResult, now: datetime
) -> Payout:
    """Book a channel's answer to a processing payout, once (a later answer changes nothing)."""
    uow.cash.lock_tenant(tenant_id)
    payout = uow.payouts.get(tenant_id, payout_id, for_update=True)
    if payout is None:
        raise NotFound(f"no payout {payout_id!r}", "payout_id")
    if payout.status != PayoutStatus.PROCESSING:
        return payout
    found = uow.withdrawals.get(tenant_id, payout.withdrawal_id, for_update=True)
    assert found is not None
    assert found.status == WithdrawalStatus.PAYING
    ref = result.channel_ref or payout.channel_ref
    if result.status == PayoutStatus.PROCESSING:
        uow.payouts.move(
            tenant_id,
            payout_id,
            source=PayoutStatus.PROCESSING,
            status=PayoutStatus.PROCESSING,
            channel_ref=ref,
            reason=None,
            attempts=payout.attempts + 1,
            now=now,
        )
    else:
        succeeded = result.status == PayoutStatus.SUCCEEDED
        reason = None if succeeded else (result.reason or "the channel refused the transfer")[:500]
        command = c.PayWithdrawal if succeeded else c.ReleaseWithdrawal
        action = "payout_succeeded" if succeeded else "payout_failed"
        status = WITHDRAWAL.check(
            found.status, action, Actor.SYSTEM, withdrawal_id=found.withdrawal_id
        )
        uow.cash.post(
            command(
                tenant_id=tenant_id,
                idempotency_key=f"withdrawal:{found.withdrawal_id}:{action}",
                user=found.holder,
                withdrawal_ref=found.withdrawal_id,
                amount_fen=found.amount_fen,
            )
        )
        assert found.decided_by is not None
        assert found.decided_at is not None
        uow.withdrawals.decide(
            tenant_id,
            found.withdrawal_id,
            status=status,
            decided_by=found.decided_by,
            reason=reason,
            decided_at=found.decided_at,
            source=WithdrawalStatus.PAYING,
        )
        uow.payouts.move(
            tenant_id,
            payout_id,
            source=PayoutStatus.PROCESSING,
            status=PayoutStatus.SUCCEEDED if succeeded else PayoutStatus.FAILED,
            channel_ref=ref,
            reason=reason,
            attempts=payout.attempts + 1,
            now=now,
        )
    done = uow.payouts.get(tenant_id, payout_id)
    assert done is not None
    return done


def retry_processing(
    db: Database, channels: PayoutChannels, sealer: Sealer, now: datetime, limit: int = 100
) -> list[Payout]:
    """Ask again for every payout still processing (the scheduler's round); one that cannot be
    sent now (its payee cannot be opened, the database refused) is logged and asked next time."""
    with db.reading() as uow:
        waiting = uow.payouts.list_payouts(None, status=PayoutStatus.PROCESSING, limit=limit)
    done = []
    for payout in waiting:
        try:
            done.append(send(db, channels, sealer, payout.tenant_id, payout.payout_id, now))
        except Exception:
            log.exception("payout %s: sending failed; asked again next round", payout.payout_id)
    return done


# -- the admins' view ---------------------------------------------------------------------------


def list_payouts(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, *, status: str | None, limit: int
) -> list[Payout]:
    require(caller, tenant_id, ADMIN, scope=Scope.READ)
    if status is not None and status not in set(PayoutStatus):
        raise InvalidInput(f"status must be one of {', '.join(PayoutStatus)}", "status")
    return uow.payouts.list_payouts(tenant_id, status=status, limit=limit)


def get_payout(uow: UnitOfWork, caller: Principal | None, tenant_id: str, payout_id: str) -> Payout:
    require(caller, tenant_id, ADMIN, scope=Scope.READ)
    found = uow.payouts.get(tenant_id, payout_id)
    if found is None:
        raise NotFound(f"no payout {payout_id!r}", "payout_id")
    return found


def payout_of(uow: UnitOfWork, tenant_id: str, withdrawal_id: str) -> Payout | None:
    return uow.payouts.of_withdrawal(tenant_id, withdrawal_id)
