"""The people's repositories of the SQL unit of work: tenants, users and their keys, and the
commissions (``adapters/db/uow.py`` binds them to the unit's transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from tokenmall.adapters.db.mall import access as access_repo
from tokenmall.adapters.db.mall import commissions as commissions_repo
from tokenmall.adapters.db.mall import people as people_repo
from tokenmall.adapters.db.mall import tenants as tenants_repo
from tokenmall.adapters.db.mall.tables import users
from tokenmall.domain.mall.commissions import (
    CommissionRow,
    CommissionStatus,
    CommissionTotals,
    NewCommission,
    RewardRow,
)
from tokenmall.domain.mall.people import ApiKey, Invitee, Role, User
from tokenmall.domain.mall.tenants import ParamsChange, Tenant


class SqlTenants:
    """The mall's tenants (``adapters/db/mall/tenants.py``)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def exists(self, tenant_id: str) -> bool:
        return tenants_repo.exists(self.conn, tenant_id)

    def is_mall_tenant(self, tenant_id: str) -> bool:
        return tenants_repo.is_mall_tenant(self.conn, tenant_id)

    def get(self, tenant_id: str) -> Tenant | None:
        return tenants_repo.get(self.conn, tenant_id)

    def list_all(self, after: str | None, limit: int) -> list[Tenant]:
        return tenants_repo.list_all(self.conn, after, limit)

    def params_history(self, tenant_id: str) -> list[ParamsChange]:
        return [ParamsChange(**row) for row in tenants_repo.params_history(self.conn, tenant_id)]

    def add(self, tenant_id: str, name: str, now: datetime) -> None:
        tenants_repo.add(self.conn, tenant_id, name, now)


class SqlUserBook:
    """The tenant's users, sessions, API keys and signup marks (``adapters/db/mall/people.py``
    and ``access.py``); the ``People`` port adds ``get_user``."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def email_taken(self, tenant_id: str, email: str) -> bool:
        return people_repo.email_taken(self.conn, tenant_id, email)

    def by_invite_code(self, tenant_id: str, code: str) -> User | None:
        return people_repo.user_by_invite_code(self.conn, tenant_id, code)

    def add_user(self, user: User, password_hash: str) -> bool:
        try:
            with self.conn.begin_nested():
                people_repo.add_user(self.conn, user, password_hash)
        except IntegrityError:
            return False
        return True

    def list_users(
        self, tenant_id: str, role: Role | None, after: str | None, limit: int
    ) -> list[User]:
        return people_repo.list_users(self.conn, tenant_id, role, after, limit)

    def invitee_ids(self, tenant_id: str, inviter_id: str) -> list[str]:
        return people_repo.invitee_ids(self.conn, tenant_id, inviter_id)

    def invitees(self, tenant_id: str, inviter_id: str, limit: int) -> list[Invitee]:
        rows = self.conn.execute(
            select(users.c.display_name, users.c.created_at)
            .where(users.c.tenant_id == tenant_id, users.c.inviter_id == inviter_id)
            .order_by(users.c.user_id)
            .limit(limit)
        ).all()
        return [Invitee(r.display_name, r.created_at) for r in rows]

    def set_fields(self, tenant_id: str, user_id: str, values: dict[str, str]) -> None:
        people_repo.set_user_fields(self.conn, tenant_id, user_id, **values)

    def revoke_session(self, tenant_id: str, session_id: str, now: datetime) -> None:
        people_repo.revoke_session(self.conn, tenant_id, session_id, now)

    def add_api_key(self, key: ApiKey, secret_hash: str) -> None:
        people_repo.add_api_key(self.conn, key, secret_hash)

    def get_api_key(self, tenant_id: str, key_id: str) -> ApiKey | None:
        return people_repo.get_api_key(self.conn, tenant_id, key_id)

    def list_api_keys(self, tenant_id: str, user_id: str | None) -> list[ApiKey]:
        return people_repo.list_api_keys(self.conn, tenant_id, user_id)

    def revoke_api_key(self, tenant_id: str, key_id: str, now: datetime) -> None:
        people_repo.revoke_api_key(self.conn, tenant_id, key_id, now)

    def put_mark(self, tenant_id: str, user_id: str, fingerprint: str) -> None:
        access_repo.put_mark(self.conn, tenant_id, user_id, fingerprint)


class SqlCommissions:
    """Referral rewards, commissions and debts (``adapters/db/mall/commissions.py``)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def of_order(self, tenant_id: str, order_ref: str) -> list[CommissionRow]:
        return commissions_repo.order_commissions(self.conn, tenant_id, order_ref)

    def add(self, tenant_id: str, rows: Sequence[NewCommission]) -> None:
        commissions_repo.add_commissions(self.conn, tenant_id, [asdict(r) for r in rows])

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
        values: dict[str, Any] = {"status": status, "updated_at": now}
        if from_cash_fen is not None:
            values["from_cash_fen"] = from_cash_fen
        if debt_fen is not None:
            values["debt_fen"] = debt_fen
        commissions_repo.set_commission(self.conn, tenant_id, order_ref, level, **values)

    def of_beneficiary(self, tenant_id: str, beneficiary: str, limit: int) -> list[CommissionRow]:
        return commissions_repo.commissions_of(self.conn, tenant_id, beneficiary, limit)

    def totals(self, tenant_id: str, beneficiary: str) -> CommissionTotals:
        found = commissions_repo.commission_totals(self.conn, tenant_id, beneficiary)
        return CommissionTotals(
            frozen=found[CommissionStatus.FROZEN],
            released=found[CommissionStatus.RELEASED],
            clawed_back=found[CommissionStatus.CLAWED_BACK],
            from_cash=found["from_cash"],
            debt=found["debt"],
            count=found["count"],
        )

    def has_rewards(self, tenant_id: str, order_ref: str) -> bool:
        return commissions_repo.has_rewards(self.conn, tenant_id, order_ref)

    def add_rewards(self, tenant_id: str, rows: Sequence[RewardRow]) -> None:
        commissions_repo.add_rewards(self.conn, tenant_id, [asdict(r) for r in rows])

    def reward_totals(self, tenant_id: str, beneficiary: str) -> dict[int, int]:
        return commissions_repo.reward_totals(self.conn, tenant_id, beneficiary)

    def add_debt(self, tenant_id: str, user_id: str, fen: int, now: datetime) -> None:
        commissions_repo.add_debt(self.conn, tenant_id, user_id, fen, now)
