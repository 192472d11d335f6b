"""The ``Cash`` port in SQL: a member's cash and debt, and the ledger steps that move them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from tokenmall.adapters.db.mall import commissions as commissions_repo
from tokenmall.adapters.db.store import Store
from tokenmall.domain.ledger import commands as c
from tokenmall.services.mall import journal


class SqlCash:
    """Cash held in the ledger, and the debts commission clawbacks left."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.store = Store(conn.engine)

    def lock_tenant(self, tenant_id: str) -> None:
        self.store.lock_tenant(self.conn, tenant_id)

    def cash_of(self, tenant_id: str, user_id: str) -> int:
        found = self.store.load_holders(self.conn, tenant_id, [user_id])
        return found[0].cash if found else 0

    def debt_of(self, tenant_id: str, user_id: str) -> int:
        return commissions_repo.debt_of(self.conn, tenant_id, user_id)

    def repay_debt(self, command: c.RepayDebt, now: datetime) -> None:
        journal.run(self.conn, command)
        commissions_repo.repay_debt(
            self.conn, command.tenant_id, command.user, command.amount_fen, now
        )

    def post(self, command: c.Command) -> None:
        journal.run(self.conn, command)
