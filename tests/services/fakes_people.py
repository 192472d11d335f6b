"""The in-memory people's ports of the fake unit of work (``fakes.py``): tenants and their
parameters, users with their keys and marks, the referral tree, the commissions, the
real-name submissions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

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


@dataclass
class FakeTenants:
    """Mall tenants by id (their parameters are the ``FakeTenantLedger``'s), and ids the
    ledger alone has."""

    names: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    ledger: FakeTenantLedger | None = None

    def _ledger(self) -> FakeTenantLedger:
        assert self.ledger is not None, "wired by the fake unit"
        return self.ledger

    def exists(self, tenant_id: str) -> bool:
        return tenant_id in self.names or tenant_id in self._ledger().history

    def is_mall_tenant(self, tenant_id: str) -> bool:
        return tenant_id in self.names

    def get(self, tenant_id: str) -> Tenant | None:
        if tenant_id not in self.names:
            return None
        name, created_at = self.names[tenant_id]
        params, version = self._ledger().params(tenant_id)
        return Tenant(tenant_id, name, params.to_public(), version, created_at)

    def list_all(self, after: str | None, limit: int) -> list[Tenant]:
        ids = sorted(t for t in self.names if after is None or t > after)[:limit]
        return [t for t in (self.get(i) for i in ids) if t is not None]

    def params_history(self, tenant_id: str) -> list[ParamsChange]:
        return list(self._ledger().history.get(tenant_id, []))

    def add(self, tenant_id: str, name: str, now: datetime) -> None:
        assert tenant_id not in self.names, "a tenant is added once"
        self.names[tenant_id] = (name, now)


@dataclass
class FakeTenantLedger:
    """Each tenant's parameter sets, the first first; ``changed`` the commands applied."""

    history: dict[str, list[ParamsChange]] = field(default_factory=dict)
    sets: dict[str, list[Params]] = field(default_factory=dict)
    changed: list[c.ChangeParams] = field(default_factory=list)
    locks: int = 0
    now: datetime = datetime(2026, 1, 1)  # noqa: DTZ001 - the fake's clock, never compared

    def create(self, tenant_id: str, params: Params, created_by: str) -> None:
        assert tenant_id not in self.sets, "a tenant's ledger is made once"
        self.sets[tenant_id] = [params]
        self.history[tenant_id] = [ParamsChange(1, params.to_public(), created_by, self.now)]

    def lock(self, tenant_id: str) -> None:
        self.locks += 1

    def params(self, tenant_id: str) -> tuple[Params, int]:
        sets = self.sets[tenant_id]
        return sets[-1], len(sets)

    def change_params(self, command: c.ChangeParams) -> None:
        current, version = self.params(command.tenant_id)
        new = current.updated(dict(command.changes))
        self.sets[command.tenant_id].append(new)
        self.history[command.tenant_id].append(
            ParamsChange(version + 1, new.to_public(), command.changed_by, self.now)
        )
        self.changed.append(command)


@dataclass
class FakeUserBook:
    """Users by (tenant, id) with their password hashes; sessions revoked, API keys, signup
    marks. ``FakePeople`` (``fakes.py``) adds ``get_user``."""

    users: dict[tuple[str, str], User] = field(default_factory=dict)
    hashes: dict[tuple[str, str], str] = field(default_factory=dict)
    revoked_sessions: list[tuple[str, str]] = field(default_factory=list)
    keys: dict[tuple[str, str], ApiKey] = field(default_factory=dict)
    marks: dict[tuple[str, str], str] = field(default_factory=dict)
    racing_emails: set[str] = field(default_factory=set)

    def email_taken(self, tenant_id: str, email: str) -> bool:
        return any(u.email == email for (t, _), u in self.users.items() if t == tenant_id)

    def by_invite_code(self, tenant_id: str, code: str) -> User | None:
        found = (u for (t, _), u in self.users.items() if t == tenant_id and u.invite_code == code)
        return next(found, None)

    def add_user(self, user: User, password_hash: str) -> bool:
        if user.email in self.racing_emails:
            return False  # a racing registration took the email first
        where = (user.tenant_id, user.user_id)
        assert where not in self.users, "a user is added once"
        self.users[where] = user
        self.hashes[where] = password_hash
        return True

    def list_users(
        self, tenant_id: str, role: Role | None, after: str | None, limit: int
    ) -> list[User]:
        found = [
            u
            for (t, i), u in sorted(self.users.items())
            if t == tenant_id and (role is None or u.role == role) and (after is None or i > after)
        ]
        return found[:limit]

    def invitee_ids(self, tenant_id: str, inviter_id: str) -> list[str]:
        return [
            i
            for (t, i), u in sorted(self.users.items())
            if t == tenant_id and u.inviter_id == inviter_id
        ]

    def invitees(self, tenant_id: str, inviter_id: str, limit: int) -> list[Invitee]:
        ids = self.invitee_ids(tenant_id, inviter_id)[:limit]
        found = (self.users[(tenant_id, i)] for i in ids)
        return [Invitee(u.display_name, u.created_at) for u in found]

    def set_fields(self, tenant_id: str, user_id: str, values: dict[str, str]) -> None:
        where = (tenant_id, user_id)
        user = self.users[where]
        changed: dict[str, Any] = dict(values)
        if "role" in changed:
            changed["role"] = Role(changed["role"])
        if "kyc_status" in changed:
            changed["kyc_status"] = KycStatus(changed["kyc_status"])
        self.users[where] = replace(user, **changed)

    def revoke_session(self, tenant_id: str, session_id: str, now: datetime) -> None:
        self.revoked_sessions.append((tenant_id, session_id))

    def add_api_key(self, key: ApiKey, secret_hash: str) -> None:
        self.keys[(key.tenant_id, key.key_id)] = key

    def get_api_key(self, tenant_id: str, key_id: str) -> ApiKey | None:
        return self.keys.get((tenant_id, key_id))

    def list_api_keys(self, tenant_id: str, user_id: str | None) -> list[ApiKey]:
        return [
            k
            for (t, _), k in sorted(self.keys.items())
            if t == tenant_id and (user_id is None or k.user_id == user_id)
        ]

    def revoke_api_key(self, tenant_id: str, key_id: str, now: datetime) -> None:
        key = self.keys[(tenant_id, key_id)]
        if key.revoked_at is None:
            self.keys[(tenant_id, key_id)] = replace(key, revoked_at=now)

    def put_mark(self, tenant_id: str, user_id: str, fingerprint: str) -> None:
        self.marks[(tenant_id, user_id)] = fingerprint


@dataclass
class FakeReferralTree:
    """Each bound holder's referrer, by (tenant, user); a cycle is refused."""

    referrer_of: dict[tuple[str, str], str] = field(default_factory=dict)

    def join(self, tenant_id: str, user_id: str, referrer_id: str) -> bool:
        if (tenant_id, user_id) in self.referrer_of:
            return True  # bound once: a repeat changes nothing
        up: str | None = referrer_id
        while up is not None:
            if up == user_id:
                return False
            up = self.referrer_of.get((tenant_id, up))
        self.referrer_of[(tenant_id, user_id)] = referrer_id
        return True

    def referrers(self, tenant_id: str, user_ids: Sequence[str]) -> dict[str, str | None]:
        return {u: self.referrer_of.get((tenant_id, u)) for u in user_ids}


@dataclass
class FakeCommissions:
    """Commissions by (tenant, order, level), the referral rewards and the debts (fen)."""

    rows: dict[tuple[str, str, int], CommissionRow] = field(default_factory=dict)
    rewards: list[tuple[str, RewardRow]] = field(default_factory=list)
    debts: dict[tuple[str, str], int] = field(default_factory=dict)

    def of_order(self, tenant_id: str, order_ref: str) -> list[CommissionRow]:
        found = [r for (t, o, _), r in self.rows.items() if (t, o) == (tenant_id, order_ref)]
        return sorted(found, key=lambda r: r.level)

    def add(self, tenant_id: str, rows: Sequence[NewCommission]) -> None:
        for r in rows:
            where = (tenant_id, r.order_ref, r.level)
            assert where not in self.rows, "a commission is added once"
            self.rows[where] = CommissionRow(
                r.order_ref, r.level, r.beneficiary, r.buyer, r.amount_fen, r.status,
                None, None, r.created_at, r.updated_at,
            )  # fmt: skip

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
        where = (tenant_id, order_ref, level)
        row = replace(self.rows[where], status=status, updated_at=now)
        if from_cash_fen is not None:
            row = replace(row, from_cash_fen=from_cash_fen)
        if debt_fen is not None:
            row = replace(row, debt_fen=debt_fen)
        self.rows[where] = row

    def of_beneficiary(self, tenant_id: str, beneficiary: str, limit: int) -> list[CommissionRow]:
        found = [
            r
            for (t, _, _), r in self.rows.items()
            if t == tenant_id and r.beneficiary == beneficiary
        ]
        found.sort(key=lambda r: r.order_ref)
        found.sort(key=lambda r: r.created_at, reverse=True)
        return found[:limit]

    def totals(self, tenant_id: str, beneficiary: str) -> CommissionTotals:
        mine = self.of_beneficiary(tenant_id, beneficiary, len(self.rows))
        by = {s: sum(r.amount_fen for r in mine if r.status == s) for s in CommissionStatus}
        return CommissionTotals(
            frozen=by[CommissionStatus.FROZEN],
            released=by[CommissionStatus.RELEASED],
            clawed_back=by[CommissionStatus.CLAWED_BACK],
            from_cash=sum(r.from_cash_fen or 0 for r in mine),
            debt=sum(r.debt_fen or 0 for r in mine),
            count=len(mine),
        )

    def has_rewards(self, tenant_id: str, order_ref: str) -> bool:
        return any(t == tenant_id and r.order_ref == order_ref for t, r in self.rewards)

    def add_rewards(self, tenant_id: str, rows: Sequence[RewardRow]) -> None:
        self.rewards.extend((tenant_id, r) for r in rows)

    def reward_totals(self, tenant_id: str, beneficiary: str) -> dict[int, int]:
        out: dict[int, int] = {}
        for t, r in self.rewards:
            if t == tenant_id and r.beneficiary == beneficiary:
                out[r.level] = out.get(r.level, 0) + r.points_units
        return out

    def add_debt(self, tenant_id: str, user_id: str, fen: int, now: datetime) -> None:
        self.debts[(tenant_id, user_id)] = self.debts.get((tenant_id, user_id), 0) + fen


@dataclass
class FakeCommissionLedger:
    """Referrers' cash (fen) that releases pay into and clawbacks take from; ``commands`` the
    ledger steps asked for (a repeated key changes nothing, as in the ledger)."""

    cash: dict[tuple[str, str], int] = field(default_factory=dict)
    commands: list[c.Command] = field(default_factory=list)

    def _new(self, command: c.Command) -> bool:
        if any(k.idempotency_key == command.idempotency_key for k in self.commands):
            return False
        self.commands.append(command)
        return True

    def release(self, command: c.ReleaseCommissions) -> None:
        if self._new(command):
            for holder, fen in command.payouts:
                where = (command.tenant_id, holder)
                self.cash[where] = self.cash.get(where, 0) + fen

    def claw_back(self, command: c.ClawbackCommissions) -> dict[str, TakenBack]:
        if not self._new(command):
            return {}
        taken: dict[str, TakenBack] = {}
        for holder, fen in command.paid:
            where = (command.tenant_id, holder)
            from_cash = min(self.cash.get(where, 0), fen)
            self.cash[where] = self.cash.get(where, 0) - from_cash
            taken[holder] = TakenBack(holder, from_cash, fen - from_cash)
        return taken


@dataclass
class FakeKyc:
    """Real-name submissions by (tenant, id) with their sealed values and fingerprints; a
    claim moves the user's status in ``people`` (the same unit's ``FakePeople``)."""

    people: FakeUserBook
    submissions: dict[tuple[str, str], KycSubmission] = field(default_factory=dict)
    sealed_values: dict[tuple[str, str], tuple[bytes, str]] = field(default_factory=dict)

    def claim(
        self, tenant_id: str, user_id: str, sources: tuple[KycStatus, ...], to: KycStatus
    ) -> bool:
        user = self.people.users[(tenant_id, user_id)]
        if user.kyc_status not in sources:
            return False
        self.people.users[(tenant_id, user_id)] = replace(user, kyc_status=to)
        return True

    def add(self, submission: KycSubmission, *, sealed: bytes, fingerprint: str) -> None:
        where = (submission.tenant_id, submission.submission_id)
        assert where not in self.submissions
        self.submissions[where] = submission
        self.sealed_values[where] = (sealed, fingerprint)

    def get(self, tenant_id: str, submission_id: str) -> KycSubmission | None:
        return self.submissions.get((tenant_id, submission_id))

    def latest_of(self, tenant_id: str, user_id: str) -> KycSubmission | None:
        mine = [s for (t, _), s in sorted(self.submissions.items()) if t == tenant_id]
        mine = [s for s in mine if s.user_id == user_id]
        return mine[-1] if mine else None

    def find(
        self, tenant_id: str, *, status: SubmissionStatus | None, after: str | None, limit: int
    ) -> list[KycSubmission]:
        found = [
            s
            for (t, i), s in sorted(self.submissions.items())
            if t == tenant_id
            and (status is None or s.status == status)
            and (after is None or i > after)
        ]
        return found[:limit]

    def holders_of(self, tenant_id: str, fingerprint: str) -> list[tuple[str, SubmissionStatus]]:
        return [
            (self.submissions[w].user_id, self.submissions[w].status)
            for w, (_, f) in sorted(self.sealed_values.items())
            if w[0] == tenant_id and f == fingerprint
        ]

    def sealed(self, tenant_id: str, submission_id: str) -> bytes | None:
        found = self.sealed_values.get((tenant_id, submission_id))
        return None if found is None else found[0]

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
        where = (tenant_id, submission_id)
        found = self.submissions[where]
        if found.status != SubmissionStatus.PENDING:
            return False
        self.submissions[where] = replace(
            found, status=status, reason=reason, reviewed_by=reviewed_by, reviewed_at=reviewed_at
        )
        return True
