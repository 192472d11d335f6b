"""Referrals: invite code and link, inviter, invitees, what referring earned.

The tree itself is the ledger's: registration with an invite code runs ``Join`` (bound once;
the engine refuses rebinding and cycles) in the registration's unit, and
``mall_users.inviter_id`` records the same edge for the mall's pages. Referral points earned are
the purchase journals' grants of level ≥ 1 (indexed in ``mall_referral_rewards`` when each
order is booked); commissions and debts are ``mall_commissions`` / ``mall_debts``. The view is
a dataclass of integers (fen, 1e-8 point units); the edge formats it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from tokenmall.domain.mall.commissions import CommissionRow, CommissionTotals
from tokenmall.domain.mall.people import Invitee, Scope
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import NotFound
from tokenmall.services.mall.people import ADMIN, ALL
from tokenmall.services.unit_of_work import UnitOfWork

MAX_INVITEES = 200
MAX_COMMISSIONS = 50


@dataclass(frozen=True, slots=True)
class Inviter:
    user_id: str
    display_name: str


@dataclass(frozen=True, slots=True)
class Referrals:
    """A user's referral view: ``points_by_level`` is (level, point units) by level, the
    commissions' totals and the newest ones in fen, ``debt_fen`` what they owe now."""

    user_id: str
    invite_code: str
    invite_path: str
    invite_url: str
    inviter: Inviter | None
    bound_in_ledger: bool
    invitees: tuple[Invitee, ...]
    points_by_level: tuple[tuple[int, int], ...]
    commissions: CommissionTotals
    recent: tuple[CommissionRow, ...]
    debt_fen: int

    @property
    def points_total(self) -> int:
        return sum(units for _, units in self.points_by_level)


def referrals(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    base_url: str,
    user_id: str | None = None,
    invitee_limit: int = 50,
) -> Referrals:
    """The caller's referral view (admins: any user's)."""
    who = require(caller, tenant_id, ALL if user_id is None else ADMIN, scope=Scope.READ)
    subject = who.subject_id if user_id is None else user_id
    user = uow.people.get_user(tenant_id, subject)
    if user is None:
        raise NotFound(f"no user {subject!r}")
    inviter = None if user.inviter_id is None else uow.people.get_user(tenant_id, user.inviter_id)
    ledger_referrer = uow.referral_tree.referrers(tenant_id, [subject]).get(subject)
    path = f"/{quote(tenant_id)}/register?invite={quote(user.invite_code)}"
    return Referrals(
        user_id=subject,
        invite_code=user.invite_code,
        invite_path=path,
        invite_url=base_url.rstrip("/") + path,
        inviter=None if inviter is None else Inviter(inviter.user_id, inviter.display_name),
        bound_in_ledger=ledger_referrer is not None and ledger_referrer == user.inviter_id,
        invitees=tuple(uow.people.invitees(tenant_id, subject, min(invitee_limit, MAX_INVITEES))),
        points_by_level=tuple(sorted(uow.commissions.reward_totals(tenant_id, subject).items())),
        commissions=uow.commissions.totals(tenant_id, subject),
        recent=tuple(uow.commissions.of_beneficiary(tenant_id, subject, MAX_COMMISSIONS)),
        debt_fen=uow.cash.debt_of(tenant_id, subject),
    )
