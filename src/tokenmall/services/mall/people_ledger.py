"""The ``TenantLedger``, ``ReferralTree`` and ``CommissionLedger`` ports in SQL: the ledger's
side of tenants and people (their parameters; who referred whom; what referring earned),
inside the unit's transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from tokenmall.adapters.db.store import Store
from tokenmall.domain.economy.params import Params
from tokenmall.domain.errors import RuleViolation
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.mall.commissions import TakenBack
from tokenmall.domain.money import parse_money
from tokenmall.services.ledger import execute as ledger
from tokenmall.services.mall import journal


class _OnLedger:
    """A port on the ledger's ``Store``, made on first use (most units never need it)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        """Made on first use: most units never touch this port."""
        if self._store is None:
            self._store = Store(self.conn.engine)
        return self._store


class SqlTenantLedger(_OnLedger):
    """A tenant's parameters as the ledger keeps them (created, locked, read, changed)."""

    def create(self, tenant_id: str, params: Params, created_by: str) -> None:
        self.store.create_tenant(self.conn, tenant_id, params, created_by=created_by)

    def lock(self, tenant_id: str) -> None:
        self.store.lock_tenant(self.conn, tenant_id)

    def params(self, tenant_id: str) -> tuple[Params, int]:
        return self.store.load_params(self.conn, tenant_id)

    def change_params(self, command: c.ChangeParams) -> None:
        ledger.execute_in(self.store, self.conn, command)


class SqlReferralTree(_OnLedger):
    """The referral tree: the ledger's holders and their referrers (holder names are user
    ids); ``Join`` binds once and refuses cycles."""

    def join(self, tenant_id: str, user_id: str, referrer_id: str) -> bool:
        command = c.Join(
            tenant_id=tenant_id,
            idempotency_key=f"join:{user_id}",
            user=user_id,
            referrer=referrer_id,
        )
        try:
            with self.conn.begin_nested():
                ledger.execute_in(self.store, self.conn, command)
        except RuleViolation:
            return False
        return True

    def referrers(self, tenant_id: str, user_ids: Sequence[str]) -> dict[str, str | None]:
        holders = self.store.load_holders(self.conn, tenant_id, list(user_ids))
        return {h.name: h.referrer for h in holders}


class SqlCommissionLedger:
    """The ledger's steps of commissions (``journal.run`` in the unit's transaction)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def release(self, command: c.ReleaseCommissions) -> None:
        journal.run(self.conn, command)

    def claw_back(self, command: c.ClawbackCommissions) -> dict[str, TakenBack]:
        result = journal.run(self.conn, command)
        return {
            t["holder"]: TakenBack(
                t["holder"],
                parse_money(t["from_cash"], allow_zero=True),
                parse_money(t["debt"], allow_zero=True),
            )
            for t in result.get("paid_taken_back", [])
        }
