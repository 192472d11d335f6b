"""The people's ports of the unit of work: tenants, users and their keys, the referral tree
and the commissions.

* ``tenants``: the mall's tenants (their names, and their parameters as the ledger keeps them);
* ``tenant_ledger``: a tenant's parameters in the ledger (created, locked, read, changed);
* ``people``: the tenant's users, their sessions, API keys and signup marks (``UserBook``
  is what the ``People`` port of ``unit_of_work.py`` has besides ``get_user``);
* ``referral_tree``: who referred whom, in the ledger (bound once; cycles refused);
* ``commissions``: the referral rewards indexed at booking, the commissions and the debts;
* ``commission_ledger``: the ledger's steps of commissions (release, claw back);
* ``kyc``: the members' real-name submissions (masked, with their sealed values).

The SQL implementations are ``adapters/db/uow_people.py`` and ``adapters/db/mall/kyc.py``
(``referral_tree``, ``tenant_ledger`` and ``commission_ledger`` run ledger commands:
``services/mall/people_ledger.py``); the fakes are ``tests/services/fakes_people.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from tokenmall.domain.economy.params import Params
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.mall.commissions import (
    CommissionRow,
    CommissionStatus,
    CommissionTotals,
    NewCommission,
    RewardRow,
    TakenBack,
)
from tokenmall.domain.mall.kyc import KycSubmission, SubmissionStatus
from tokenmall.domain.mall.people import ApiKey, Invitee, KycStatus, Role, User
from tokenmall.domain.mall.tenants import ParamsChange, Tenant


class Tenants(Protocol):
    def exists(self, tenant_id: str) -> bool:
        """Whether the id is taken, by a mall tenant or by a ledger-only tenant."""

    def is_mall_tenant(self, tenant_id: str) -> bool: ...

    def get(self, tenant_id: str) -> Tenant | None: ...

    def list_all(self, after: str | None, limit: int) -> list[Tenant]:
        """In id order, after ``after``."""

    def params_history(self, tenant_id: str) -> list[ParamsChange]:
        """Every parameter set the tenant had, the first first."""

    def add(self, tenant_id: str, name: str, now: datetime) -> None: ...


class TenantLedger(Protocol):
    def create(self, tenant_id: str, params: Params, created_by: str) -> None:
        """The tenant's ledger with its first parameters."""

    def lock(self, tenant_id: str) -> None:
        """Take the tenant's ledger lock until the unit ends."""

    def params(self, tenant_id: str) -> tuple[Params, int]:
        """The parameters now and their version."""

    def change_params(self, command: c.ChangeParams) -> None:
        """Apply the audited change (refused: ``InvalidParameter`` or another domain error)."""


class UserBook(Protocol):
    def email_taken(self, tenant_id: str, email: str) -> bool: ...

    def by_invite_code(self, tenant_id: str, code: str) -> User | None: ...

    def add_user(self, user: User, password_hash: str) -> bool:
        """Store a new user; False if a racing registration took the email (or the invite
        code) first, and then nothing is stored."""

    def list_users(
        self, tenant_id: str, role: Role | None, after: str | None, limit: int
    ) -> list[User]:
        """In id order, after ``after`` (``role``: of that role only)."""

    def invitee_ids(self, tenant_id: str, inviter_id: str) -> list[str]:
        """Whom the user invited, in id order."""

    def invitees(self, tenant_id: str, inviter_id: str, limit: int) -> list[Invitee]:
        """Whom the user invited, in id order, at most ``limit``."""

    def set_fields(self, tenant_id: str, user_id: str, values: dict[str, str]) -> None:
        """Set the role, the KYC status or the display name."""

    def revoke_session(self, tenant_id: str, session_id: str, now: datetime) -> None: ...

    def add_api_key(self, key: ApiKey, secret_hash: str) -> None: ...

    def get_api_key(self, tenant_id: str, key_id: str) -> ApiKey | None: ...

    def list_api_keys(self, tenant_id: str, user_id: str | None) -> list[ApiKey]:
        """The keys of the user (None: everyone's)."""

    def revoke_api_key(self, tenant_id: str, key_id: str, now: datetime) -> None: ...

    def put_mark(self, tenant_id: str, user_id: str, fingerprint: str) -> None:
        """Where the user registered from (a hash), for the shared-signup report."""


class ReferralTree(Protocol):
    def join(self, tenant_id: str, user_id: str, referrer_id: str) -> bool:
        """Bind the user's referrer in the ledger (once: a repeat changes nothing); False if
        the ledger refuses it (a cycle), and then nothing changed."""

    def referrers(self, tenant_id: str, user_ids: Sequence[str]) -> dict[str, str | None]:
        """Each known holder's referrer in the ledger (users the ledger has not met are left
        out)."""


class Commissions(Protocol):
    def of_order(self, tenant_id: str, order_ref: str) -> list[CommissionRow]:
        """The order's commissions, by level."""

    def add(self, tenant_id: str, rows: Sequence[NewCommission]) -> None: ...

    def settle(
        self,
        tenant_id: str,
        order_ref: str,
        level: int,
        *,
        status: CommissionStatus,
        from_cash_fen: int | None,
        debt_fen: int | None,
        now: datetime,
    ) -> None:
        """Move one commission on (the clawed-back amounts only when a clawback set them)."""

    def of_beneficiary(self, tenant_id: str, beneficiary: str, limit: int) -> list[CommissionRow]:
        """The newest first."""

    def totals(self, tenant_id: str, beneficiary: str) -> CommissionTotals: ...

    def has_rewards(self, tenant_id: str, order_ref: str) -> bool: ...

    def add_rewards(self, tenant_id: str, rows: Sequence[RewardRow]) -> None: ...

    def reward_totals(self, tenant_id: str, beneficiary: str) -> dict[int, int]:
        """Point units earned from referrals, by level."""

    def add_debt(self, tenant_id: str, user_id: str, fen: int, now: datetime) -> None: ...


class CommissionLedger(Protocol):
    def release(self, command: c.ReleaseCommissions) -> None:
        """Pay frozen commissions to the referrers' cash (a repeated key changes nothing)."""

    def claw_back(self, command: c.ClawbackCommissions) -> dict[str, TakenBack]:
        """Return frozen commissions to revenue and take released ones back; the released
        ones taken back, by referrer."""


class Kyc(Protocol):
    def claim(
        self, tenant_id: str, user_id: str, sources: tuple[KycStatus, ...], to: KycStatus
    ) -> bool:
        """Move the member's real-name status to ``to`` if it is one of ``sources``; False
        (and nothing changed) if it is not, as when a racing request moved it first."""

    def add(self, submission: KycSubmission, *, sealed: bytes, fingerprint: str) -> None: ...

    def get(self, tenant_id: str, submission_id: str) -> KycSubmission | None: ...

    def latest_of(self, tenant_id: str, user_id: str) -> KycSubmission | None: ...

    def find(
        self, tenant_id: str, *, status: SubmissionStatus | None, after: str | None, limit: int
    ) -> list[KycSubmission]:
        """In id order (the oldest first), after ``after``."""

    def holders_of(self, tenant_id: str, fingerprint: str) -> list[tuple[str, SubmissionStatus]]:
        """Who submitted the identity number of this fingerprint, with each submission's
        status."""

    def sealed(self, tenant_id: str, submission_id: str) -> bytes | None: ...

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
        """Close a pending submission; False if it was not pending any more."""
