"""The in-memory wallet trades and settlement of the fake unit of work (``fakes.py``).

Trades run at the holdings' fixed price with the engine's own arithmetic and refusals
(``domain.economy.market``): a sell moves points to cash, a conversion points to stable points,
a redemption a merchant's stable points to points. They change the very holders
``FakeHoldings`` reads (the unit copies both together, so a rollback restores both).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from tokenmall.domain.economy import market
from tokenmall.domain.economy.health import Health, health
from tokenmall.domain.economy.params import Params
from tokenmall.domain.economy.state import EconomyState, Holder, Rates
from tokenmall.domain.errors import InsufficientBalance, InvalidAmount
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.money import format_price, parse_points
from tokenmall.services.unit_of_work_wallet import Exit, Redeemed, SettledDay, Traded

if TYPE_CHECKING:
    from fakes import FakeHoldings, FakeParams


@dataclass
class FakeTrades:
    """Trades on ``holdings``; ``journals`` are the commands written, in order."""

    holdings: FakeHoldings
    tenant_params: FakeParams
    pending: dict[tuple[str, str], int] = field(default_factory=dict)
    journals: list[c.Command] = field(default_factory=list)

    @property
    def params(self) -> Params:
        return self.tenant_params.params

    def solvency(self, tenant_id: str, now: datetime) -> Health:
        num, den = self.holdings.price(tenant_id)
        return health(EconomyState(last_price_num=num, last_price_den=den), self.params, 0, 0)

    def window_days(self) -> int:
        return 30

    def withdrawing(self, tenant_id: str, user_id: str) -> int:
        return self.pending.get((tenant_id, user_id), 0)

    def _holder(self, tenant_id: str, name: str) -> Holder:
        return self.holdings.holders.setdefault((tenant_id, name), Holder(name))

    def _apply(self, command: c.Sell | c.Convert, write: bool) -> Traded:
        price = self.holdings.price(command.tenant_id)
        h = self._holder(command.tenant_id, command.user)
        units = command.units
        if units > h.points:
            raise InsufficientBalance(f"{h.name} holds {h.points} point units, not {units}")
        if isinstance(command, c.Sell):
            received = market.buyback_payout(Rates(self.params), units, *price)
        else:
            keep_num, keep_den = Rates(self.params).convert_keep
            received = units * price[0] * keep_num // (price[1] * keep_den)
        if received <= 0:
            raise InvalidAmount(f"{units} point units are worth less than 0.01")
        if not write:
            return Traded(units, received, price, self.params)
        h.points -= units
        if isinstance(command, c.Sell):
            h.cash += received
        else:
            h.stable += received
        self.journals.append(command)
        return Traded(units, received, price, self.params, len(self.journals))

    def preview(self, command: c.Sell | c.Convert) -> Traded:
        return self._apply(command, write=False)

    def trade(self, command: c.Sell | c.Convert) -> Traded:
        return self._apply(command, write=True)

    def redeem(self, command: c.RedeemStable) -> Redeemed:
        num, den = self.holdings.price(command.tenant_id)
        h = self._holder(command.tenant_id, command.merchant)
        if command.amount_fen > h.stable:
            raise InsufficientBalance(f"{h.name} holds {h.stable} stable fen")
        units = command.amount_fen * den // num
        h.stable -= command.amount_fen
        h.points += units
        self.journals.append(command)
        price_e8 = parse_points(format_price(num, den), allow_zero=True)
        return Redeemed(command.amount_fen, units, price_e8, len(self.journals))


@dataclass
class FakeSettlements:
    """Settled days by tenant; ``results`` answers ``settle`` for a day not settled yet."""

    days: dict[tuple[str, date], SettledDay] = field(default_factory=dict)
    results: dict[tuple[str, date], tuple[SettledDay, list[Exit]]] = field(default_factory=dict)
    mall_tenants: set[str] = field(default_factory=set)
    exit_rows: dict[tuple[str, int], list[Exit]] = field(default_factory=dict)

    def is_settled(self, tenant_id: str, day: date) -> bool:
        return (tenant_id, day) in self.days

    def is_mall_tenant(self, tenant_id: str) -> bool:
        return tenant_id in self.mall_tenants

    def settle(self, tenant_id: str, day: date) -> SettledDay:
        found = self.days.get((tenant_id, day))
        if found is not None:
            return found
        settled, exits = self.results[(tenant_id, day)]
        self.days[(tenant_id, day)] = settled
        if settled.exit_journal_id is not None:
            self.exit_rows[(tenant_id, settled.exit_journal_id)] = exits
        return settled

    def exits(self, tenant_id: str, exit_journal_id: int) -> list[Exit]:
        return self.exit_rows.get((tenant_id, exit_journal_id), [])

    def settled(self, tenant_id: str, after: date | None, limit: int) -> list[SettledDay]:
        found = [
            d
            for (t, day), d in sorted(self.days.items())
            if t == tenant_id and (after is None or day > after)
        ]
        return found[:limit]
