"""The ``tokenmall market replay`` contract (market.md) as a pure use case.

``MarketReplay.apply_line`` reads one line of JSON and returns the line to print:
``{"n": N, "ok": true, …}`` or ``{"n": N, "ok": false, "code": CODE}`` (a refused event changes
nothing and the run goes on). Input that cannot be read (not JSON, not an object, an unknown
op or field, a missing field, a field of the wrong JSON type, a JSON number where a decimal
string belongs) raises ``ReplayError``: the caller prints ``line N: …`` and stops with status 2.
Well-formed values the rules refuse (a price with 3 decimals, a zero count) are refusals with
the code ``invalid_input``. Users exist from the first accepted event that names them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from tokenmall.domain.errors import InvalidAmount
from tokenmall.domain.market.market import Market
from tokenmall.domain.market.profiles import Profile, collection_rules
from tokenmall.domain.market.records import Trade
from tokenmall.domain.market.refusals import Code, MarketRefused
from tokenmall.domain.money import format_money, parse_money, parse_rate

# A field's kind: how its JSON value must look (else the line is malformed).
NAME, MONEY, RATE, INT, BOOL = "name", "money", "rate", "int", "bool"

# op -> (required fields, optional fields), each field -> kind
FIELDS: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "collection": (
        {"id": NAME, "issuer": NAME, "editions": INT, "price": MONEY},
        {
            "fee_rate": RATE,
            "royalty_rate": RATE,
            "band": RATE,
            "hold_trading_days": INT,
            "holder_limit": INT,
            "gift_hold_days": INT,
        },
    ),
    "mint": ({"collection": NAME, "to": NAME}, {"count": INT}),
    "deposit": ({"user": NAME, "amount": MONEY}, {}),
    "withdraw": ({"user": NAME, "amount": MONEY}, {}),
    "kyc": ({"user": NAME}, {}),
    "day": ({}, {"trading": BOOL}),
    "list": ({"user": NAME, "token": NAME, "price": MONEY}, {"valid_days": INT}),
    "bid": ({"user": NAME, "collection": NAME, "price": MONEY}, {"valid_days": INT}),
    "take": ({"user": NAME, "order": INT}, {}),
    "cancel": ({"user": NAME, "order": INT}, {}),
    "offer": ({"user": NAME, "token": NAME, "to": NAME, "price": MONEY}, {"valid_days": INT}),
    "accept": ({"user": NAME, "order": INT}, {}),
    "gift": ({"user": NAME, "token": NAME, "to": NAME}, {}),
    "halt": ({"collection": NAME}, {}),
    "resume": ({"collection": NAME}, {}),
}


class ReplayError(Exception):
    """A line that cannot be read: ``line N: what is wrong``."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


class _Malformed(Exception):
    pass


def _refuse_number(text: str) -> Any:
    raise _Malformed(f'{text} is a JSON number: write decimals as strings such as "100.00"')


def trade_json(trade: Trade) -> dict[str, str]:
    return {
        "token": trade.token,
        "seller": trade.seller,
        "buyer": trade.buyer,
        "price": format_money(trade.price),
        "fee": format_money(trade.fee),
        "royalty": format_money(trade.royalty),
    }


def _money(value: str, field: str) -> int:
    try:
        return parse_money(value, field)
    except InvalidAmount as exc:
        raise MarketRefused(Code.INVALID_INPUT, str(exc), field) from None


def _rate(value: str | None, field: str) -> Fraction | None:
    if value is None:
        return None
    try:
        return parse_rate(value, field)
    except InvalidAmount as exc:
        raise MarketRefused(Code.INVALID_INPUT, str(exc), field) from None


class MarketReplay:
    """One run: a ``Market`` under ``profile`` from trading day 1, and the users named so far."""

    def __init__(self, prof: Profile | str = "open") -> None:
        self.market = Market(prof)
        self.users: dict[str, None] = {}  # first accepted mention order
        self._ops: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            op: getattr(self, f"_{op}") for op in FIELDS
        }

    def apply_line(self, n: int, text: str) -> dict[str, Any]:
        """The output line for input line ``n``; ``ReplayError`` if it cannot be read."""
        try:
            event = json.loads(text, parse_float=_refuse_number, parse_constant=_refuse_number)
            op = self._check(event)
        except _Malformed as exc:
            raise ReplayError(n, str(exc)) from None
        except ValueError as exc:
            raise ReplayError(n, f"not valid JSON: {exc}") from None
        try:
            extra = self._ops[op](event)
        except MarketRefused as refused:
            return {"n": n, "ok": False, "code": refused.code.value}
        for field in ("user", "to"):
            if field in event:
                self.users.setdefault(event[field], None)
        return {"n": n, "ok": True, **extra}

    @staticmethod
    def _check(event: Any) -> str:
        if not isinstance(event, dict):
            raise _Malformed("each line must be a JSON object")
        op = event.get("op")
        if not isinstance(op, str) or op not in FIELDS:
            raise _Malformed(f"unknown op {op!r} (known: {', '.join(FIELDS)})")
        required, optional = FIELDS[op]
        for field in optional:
            if field in event and event[field] is None:  # null: as if absent
                del event[field]
        missing = [f for f in required if f not in event]
        if missing:
            raise _Malformed(f"{op} is missing {', '.join(missing)}")
        unknown = sorted(set(event) - {"op", *required, *optional})
        if unknown:
            raise _Malformed(f"{op} has unknown field {', '.join(unknown)}")
        for field, kind in {**required, **optional}.items():
            if field in event and not _looks_like(event[field], kind):
                raise _Malformed(f"{field} must be {_DESCRIBE[kind]}, got {event[field]!r}")
        return op

    def final_line(self) -> dict[str, Any]:
        """``{"final": true, "cash", "owners", "platform", "issuers"}``: each user's cash
        (first named first; what open bids reserve is still theirs and included, so cash,
        platform and issuers add up to the deposits), every token's owner (in mint order),
        fees and royalties."""
        state = self.market.state
        accounts = {u: state.account(u) for u in self.users}
        return {
            "final": True,
            "cash": {u: format_money(a.cash + a.reserved) for u, a in accounts.items()},
            "owners": {key: tok.owner for key, tok in state.tokens.items()},
            "platform": format_money(state.platform),
            "issuers": {name: format_money(fen) for name, fen in state.issuers.items()},
        }

    # --- one handler an op -------------------------------------------------------------

    def _collection(self, e: dict[str, Any]) -> dict[str, Any]:
        prof = self.market.profile
        price = _money(e["price"], "price")
        rules = collection_rules(
            prof,
            fee_rate=_rate(e.get("fee_rate"), "fee_rate") or Fraction(0),
            royalty_rate=_rate(e.get("royalty_rate"), "royalty_rate") or Fraction(0),
            band=_rate(e.get("band"), "band"),
            hold_trading_days=e.get("hold_trading_days"),
            holder_limit=e.get("holder_limit"),
            gift_hold_days=e.get("gift_hold_days"),
        )
        self.market.add_collection(e["id"], e["issuer"], e["editions"], price, rules)
        return {}

    def _mint(self, e: dict[str, Any]) -> dict[str, Any]:
        out = self.market.mint(e["collection"], e["to"], e.get("count", 1))
        return {"tokens": list(out.tokens)}

    def _deposit(self, e: dict[str, Any]) -> dict[str, Any]:
        self.market.deposit(e["user"], _money(e["amount"], "amount"))
        return {}

    def _withdraw(self, e: dict[str, Any]) -> dict[str, Any]:
        self.market.withdraw(e["user"], _money(e["amount"], "amount"))
        return {}

    def _kyc(self, e: dict[str, Any]) -> dict[str, Any]:
        self.market.verify(e["user"])
        return {}

    def _day(self, e: dict[str, Any]) -> dict[str, Any]:
        self.market.day(e.get("trading", True))
        return {}

    def _list(self, e: dict[str, Any]) -> dict[str, Any]:
        price = _money(e["price"], "price")
        return _order(self.market.list(e["user"], e["token"], price, e.get("valid_days")))

    def _bid(self, e: dict[str, Any]) -> dict[str, Any]:
        price = _money(e["price"], "price")
        return _order(self.market.bid(e["user"], e["collection"], price, e.get("valid_days")))

    def _take(self, e: dict[str, Any]) -> dict[str, Any]:
        return _trades(self.market.take(e["user"], e["order"]))

    def _cancel(self, e: dict[str, Any]) -> dict[str, Any]:
        self.market.cancel(e["user"], e["order"])
        return {}

    def _offer(self, e: dict[str, Any]) -> dict[str, Any]:
        price = _money(e["price"], "price")
        out = self.market.offer(e["user"], e["token"], e["to"], price, e.get("valid_days"))
        return {"order": out.order}

    def _accept(self, e: dict[str, Any]) -> dict[str, Any]:
        return _trades(self.market.accept(e["user"], e["order"]))

    def _gift(self, e: dict[str, Any]) -> dict[str, Any]:
        self.market.gift(e["user"], e["token"], e["to"])
        return {}

    def _halt(self, e: dict[str, Any]) -> dict[str, Any]:
        self.market.halt(e["collection"])
        return {}

    def _resume(self, e: dict[str, Any]) -> dict[str, Any]:
        self.market.resume(e["collection"])
        return {}


def _order(out: Any) -> dict[str, Any]:
    extra: dict[str, Any] = {"order": out.order}
    if out.trades:
        extra["trades"] = [trade_json(t) for t in out.trades]
    return extra


def _trades(out: Any) -> dict[str, Any]:
    return {"trades": [trade_json(t) for t in out.trades]}


_DESCRIBE = {
    NAME: "a non-empty string",
    MONEY: 'a decimal string such as "100.00"',
    RATE: 'a decimal string such as "0.05"',
    INT: "a whole number",
    BOOL: "true or false",
}


def _looks_like(value: Any, kind: str) -> bool:
    if kind == NAME:
        return isinstance(value, str) and bool(value.strip())
    if kind in (MONEY, RATE):
        return isinstance(value, str)
    if kind == INT:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, bool)
