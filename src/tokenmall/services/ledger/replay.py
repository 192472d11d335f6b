"""The ``tokenmall economy replay`` contract (design/replay.md) as a pure use case.

``Replay.apply_line`` takes one line of text and returns the state line to print, or raises
``ReplayError`` naming what is wrong; the caller prints ``line N: …`` and stops. Decimals are
strings in and out; JSON numbers are refused so no binary float ever carries money.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

from tokenmall.domain.economy import Economy, Params
from tokenmall.domain.economy.standing import level, shares
from tokenmall.domain.errors import DomainError, RuleViolation
from tokenmall.domain.money import (
    format_money,
    format_points,
    format_price,
    parse_money,
    parse_points,
)

ReplayEvent: TypeAlias = dict[str, Any]
"""One input line: a JSON object with ``op`` and that op's fields, decimals as strings."""


@dataclass(frozen=True, slots=True)
class StateLine:
    """The aggregates after one input line: money in fen, points in units, the price as
    the exact fraction fen per unit."""

    n: int
    op: str
    price_num: int
    price_den: int
    pool: int
    circulating: int
    minted: int
    burned: int
    treasury: int
    dividend_pool: int
    stable_outstanding: int

    def to_json(self) -> dict[str, str | int]:
        """The line the command prints: decimal strings."""
        return {
            "n": self.n,
            "op": self.op,
            "price": format_price(self.price_num, self.price_den),
            "pool": format_money(self.pool),
            "circulating": format_points(self.circulating),
            "minted": format_points(self.minted),
            "burned": format_points(self.burned),
            "treasury": format_points(self.treasury),
            "dividend_pool": format_money(self.dividend_pool),
            "stable_outstanding": format_money(self.stable_outstanding),
        }


@dataclass(frozen=True, slots=True)
class UserLine:
    """One holder at the end of a replay; ``debt`` is None unless a refund was replayed."""

    name: str
    points: int
    cash: int
    stable: int
    quota: int
    quota_used: int
    shares: int
    level: str
    exited: bool
    debt: int | None = None

    def to_json(self) -> dict[str, str | int | bool]:
        out: dict[str, str | int | bool] = {
            "points": format_points(self.points),
            "cash": format_money(self.cash),
            "stable": format_money(self.stable),
            "quota": format_money(self.quota),
            "quota_used": format_money(self.quota_used),
            "shares": self.shares,
            "level": self.level,
            "exited": self.exited,
        }
        if self.debt is not None:
            out["debt"] = format_money(self.debt)
        return out


@dataclass(frozen=True, slots=True)
class FinalLine:
    """The last line of a replay: every holder, by name."""

    users: tuple[UserLine, ...]

    def to_json(self) -> dict[str, Any]:
        """The line the command prints: ``{"final": true, "users": {name: figures}}``."""
        return {"final": True, "users": {u.name: u.to_json() for u in self.users}}


class ReplayError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


# op -> (required fields, optional fields)
FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "join": (("user", "referrer"), ()),
    "purchase": (("user", "amount"), ("contribution",)),
    "sell": (("user", "points"), ()),
    "convert": (("user", "points"), ()),
    "pay_stable": (("user", "merchant", "amount"), ()),
    "redeem_stable": (("merchant", "amount"), ()),
    "dividend": ((), ()),
    "refund": (("order",), ("amount",)),
}


def _name(event: ReplayEvent, field: str) -> str:
    value = event[field]
    if not isinstance(value, str) or not value.strip():
        raise DomainError(f"{field} must be a non-empty string, got {value!r}")
    return value


class Replay:
    def __init__(self, params: Params) -> None:
        self.economy = Economy(params)
        self.day = 0
        self.line = 0  # the input line being applied (a purchase is an order named by it)
        self.refunds = False  # a refund was replayed: the final line shows debts
        self._handlers: dict[str, Callable[[ReplayEvent], None]] = {
            "join": self._join,
            "purchase": self._purchase,
            "sell": self._sell,
            "convert": self._convert,
            "pay_stable": self._pay_stable,
            "redeem_stable": self._redeem_stable,
            "dividend": self._dividend,
            "refund": self._refund,
        }

    def apply_line(self, n: int, text: str) -> StateLine:
        try:
            event = json.loads(text, parse_float=_refuse_number, parse_constant=_refuse_number)
        except _NumberRefused as exc:
            raise ReplayError(n, str(exc)) from None
        except ValueError as exc:
            raise ReplayError(n, f"not valid JSON: {exc}") from None
        if not isinstance(event, dict):
            raise ReplayError(n, "each line must be a JSON object")
        op = event.get("op")
        self.line = n
        try:
            self.apply(event)
        except DomainError as exc:
            raise ReplayError(n, str(exc)) from None
        return self.state_line(n, str(op))

    def apply(self, event: ReplayEvent) -> None:
        op = event.get("op")
        if op == "params":
            changes = {k: v for k, v in event.items() if k != "op"}
            if not changes:
                raise DomainError("params needs at least one parameter")
            self.economy.set_params(changes)
            return
        if not isinstance(op, str) or op not in FIELDS:
            known = ", ".join(["params", *FIELDS])
            raise DomainError(f"unknown op {op!r} (known: {known})")
        required, optional = FIELDS[op]
        missing = [f for f in required if f not in event]
        if missing:
            raise DomainError(f"{op} is missing {', '.join(missing)}")
        unknown = sorted(set(event) - {"op", *required, *optional})
        if unknown:
            raise DomainError(f"{op} has unknown field {', '.join(unknown)}")
        self._handlers[op](event)

    def _join(self, e: ReplayEvent) -> None:
        self.economy.join(_name(e, "user"), _name(e, "referrer"))

    def _purchase(self, e: ReplayEvent) -> None:
        user = _name(e, "user")
        amount = parse_money(e["amount"], "amount")
        contribution = None
        if "contribution" in e:
            contribution = parse_money(e["contribution"], "contribution", allow_zero=True)
        self.economy.purchase_order(_order_id(self.line), user, amount, contribution)

    def _sell(self, e: ReplayEvent) -> None:
        self.economy.sell(_name(e, "user"), parse_points(e["points"]))

    def _convert(self, e: ReplayEvent) -> None:
        self.economy.convert(_name(e, "user"), parse_points(e["points"]))

    def _pay_stable(self, e: ReplayEvent) -> None:
        self.economy.pay_stable(_name(e, "user"), _name(e, "merchant"), parse_money(e["amount"]))

    def _redeem_stable(self, e: ReplayEvent) -> None:
        self.economy.redeem_stable(_name(e, "merchant"), parse_money(e["amount"]))

    def _dividend(self, e: ReplayEvent) -> None:
        self.day += 1
        self.economy.settle_day(self.day)

    def _refund(self, e: ReplayEvent) -> None:
        ref = e["order"]
        if isinstance(ref, bool) or not isinstance(ref, int | str):
            raise DomainError(f"order must be the line number of a purchase, got {ref!r}")
        text = str(ref)
        if not text.isascii() or not text.isdigit() or int(text) <= 0:
            raise DomainError(f"order must be the line number of a purchase, got {ref!r}")
        line = int(text)
        order = self.economy.orders.get(_order_id(line))
        if order is None:
            raise RuleViolation(f"order {line}: there is no purchase on line {line}")
        if order.status == "refunded":
            raise RuleViolation(f"order {line}: the purchase on line {line} is already refunded")
        amount = None
        if "amount" in e:
            amount = parse_money(e["amount"], "amount")
            if amount > order.amount:
                raise DomainError(
                    f"amount {e['amount']} is more than the purchase on line {line} "
                    f"({format_money(order.amount)})"
                )
        self.economy.refund_order(order.order_id, amount)
        self.refunds = True

    def state_line(self, n: int, op: str) -> StateLine:
        s = self.economy.state
        num, den = s.price()
        return StateLine(
            n=n,
            op=op,
            price_num=num,
            price_den=den,
            pool=s.pool,
            circulating=s.circulating,
            minted=s.minted,
            burned=s.burned,
            treasury=s.treasury,
            dividend_pool=s.dividend_pool,
            stable_outstanding=s.stable_outstanding,
        )

    def final_line(self) -> FinalLine:
        params = self.economy.params
        holders = self.economy.state.holders  # names are unique: sorted by name
        debts = self.economy.debts
        return FinalLine(
            tuple(
                UserLine(
                    name=name,
                    points=h.points,
                    cash=h.cash,
                    stable=h.stable,
                    quota=h.quota,
                    quota_used=h.quota_used,
                    shares=shares(params, h),
                    level=level(params, h),
                    exited=h.exited,
                    debt=debts.get(name, 0) if self.refunds else None,
                )
                for name, h in sorted(holders.items())
            )
        )


def _order_id(line: int) -> str:
    return f"line {line}"


class _NumberRefused(ValueError):
    pass


def _refuse_number(text: str) -> Any:
    raise _NumberRefused(f'numbers must be decimal strings such as "{text}", not JSON numbers')
