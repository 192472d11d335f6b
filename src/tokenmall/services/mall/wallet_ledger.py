"""The ``Trades`` and ``Settlements`` ports in SQL: the wallet's and the daily settlement's
ledger steps, run through the ledger's ``execute`` in the unit's transaction.

The ledger answers with decimal strings; these adapters read them back to integers once, so
the use cases (``wallet.py``, ``settling.py``) see only ``Traded``, ``Redeemed`` and
``SettledDay``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection

from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.uow_wallet import SettledDay, SqlSettledDays, SqlWalletReads, settled_day
from tokenmall.domain.economy.health import Health
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.money import parse_money, parse_points
from tokenmall.services.ledger import execute as ledger
from tokenmall.services.ledger import report
from tokenmall.services.ledger.book import load_book
from tokenmall.services.unit_of_work_wallet import Redeemed, Traded


def _received(command: c.Sell | c.Convert, result: dict[str, Any]) -> int:
    return parse_money(result["payout"] if isinstance(command, c.Sell) else result["stable"])


class SqlTrades(SqlWalletReads):
    """The wallet's ledger steps and what backs the price."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.store = Store(conn.engine)

    def solvency(self, tenant_id: str, now: datetime) -> Health:
        return report.solvency(self.conn, tenant_id, now)

    def window_days(self) -> int:
        return report.DEFAULT_WINDOW_DAYS

    def preview(self, command: c.Sell | c.Convert) -> Traded:
        book = load_book(self.store, self.conn, command.tenant_id)
        price = book.state.price()
        result = book.apply(command).result
        points = parse_points(result["points"])
        return Traded(points, _received(command, result), price, book.params)

    def trade(self, command: c.Sell | c.Convert) -> Traded:
        # The tenant's write lock first, so the price read here is the one the command runs at.
        self.store.lock_tenant(self.conn, command.tenant_id)
        state, _ = self.store.load_state(self.conn, command.tenant_id)
        price = state.price()
        result = ledger.execute_in(self.store, self.conn, command)
        params, _ = self.store.load_params(self.conn, command.tenant_id)
        return Traded(
            parse_points(result["points"]),
            _received(command, result),
            price,
            params,
            int(result["journal_id"]),
        )

    def redeem(self, command: c.RedeemStable) -> Redeemed:
        result = ledger.execute_in(self.store, self.conn, command)
        return Redeemed(
            amount=parse_money(result["amount"]),
            points=parse_points(result["points"], allow_zero=True),
            price_e8=parse_points(result["price"], "price", allow_zero=True),
            journal_id=int(result["journal_id"]),
        )


class SqlSettlements(SqlSettledDays):
    """The settled days, and the ledger's ``SettleDay`` (it takes the tenant's lock)."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.store = Store(conn.engine)

    def settle(self, tenant_id: str, day: date) -> SettledDay:
        command = c.SettleDay(tenant_id=tenant_id, business_date=day)
        return settled_day(ledger.execute_in(self.store, self.conn, command))
