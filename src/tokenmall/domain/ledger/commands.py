"""Commands: one frozen dataclass per business event a tenant's ledger accepts.

Every command names its tenant and carries the client's idempotency key; amounts are integers
of minor units (fen, 1e-8 point units) parsed at the edge. ``fingerprint()`` is a canonical
hash of the request without its key: the same key with the same fingerprint is a replay, the
same key with another fingerprint is a conflict. Construction checks only shapes (names are
non-empty strings, amounts are ints); the rules are checked by the engine when applied.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any

from tokenmall.domain.errors import DomainError, InvalidAmount

MAX_KEY = 200
MAX_NAME = 100
_REQUEST_FIELDS: dict[type, tuple[str, ...]] = {}  # a command class's fields but its key


def _check_name(what: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise DomainError(f"{what} must be a non-empty name of at most {MAX_NAME} characters")


def _check_int(what: str, value: object, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAmount(f"{what} must be a whole number of minor units, got {value!r}")


# ``json.dumps(request, sort_keys=True, ensure_ascii=False, default=str)``, made once: stored
# fingerprints depend on this exact text, so it must never change.
_FINGERPRINT_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=str)


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    tenant_id: str
    idempotency_key: str

    def __post_init__(self) -> None:
        _check_name("tenant_id", self.tenant_id)
        key = self.idempotency_key
        if not isinstance(key, str) or not key or len(key) > MAX_KEY:
            raise DomainError(f"idempotency_key must be 1 to {MAX_KEY} characters")

    def request(self) -> dict[str, Any]:
        """The request without its idempotency key, JSON-safe."""
        cls = type(self)
        names = _REQUEST_FIELDS.get(cls)
        if names is None:
            names = _REQUEST_FIELDS[cls] = tuple(
                f.name for f in fields(self) if f.name != "idempotency_key"
            )
        out: dict[str, Any] = {"command": cls.__name__}
        for name in names:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, date) else value
        return out

    def fingerprint(self) -> str:
        text = _FINGERPRINT_JSON.encode(self.request())
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class Purchase(Command):
    """Rule 1: book a paid order's rewards (at ``grant_on``)."""

    user: str
    amount_fen: int
    contribution_fen: int | None = None  # a product's fixed contribution, else pool_rate
    order_ref: str | None = None
    # True when the order's money was recorded by ``ReceivePayment`` and waits in escrow.
    from_escrow: bool = False

    def __post_init__(self) -> None:
        Command.__post_init__(self)
        _check_name("user", self.user)
        _check_int("amount", self.amount_fen)
        _check_int("contribution", self.contribution_fen, optional=True)
        if not isinstance(self.from_escrow, bool):
            raise DomainError("from_escrow must be true or false")


@dataclass(frozen=True, slots=True, kw_only=True)
class _UserPoints(Command):
    """A command on ``units`` of one user's points."""

    user: str
    units: int

    def __post_init__(self) -> None:
        Command.__post_init__(self)
        _check_name("user", self.user)
        _check_int("points", self.units)


@dataclass(frozen=True, slots=True, kw_only=True)
class Sell(_UserPoints):
    """Rule 2: buy ``units`` of the user's points back at the current price."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SellTo(_UserPoints):
    """Rule 2 for points spent on a good: buy ``units`` of the user's points back at the
    current price and burn them, the payout going to ``payee``'s cash (the good's seller)."""

    payee: str

    def __post_init__(self) -> None:
        _UserPoints.__post_init__(self)
        _check_name("payee", self.payee)


@dataclass(frozen=True, slots=True, kw_only=True)
class Convert(_UserPoints):
    """Rule 3: move ``units`` of the user's points to the treasury for stable points."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PayStable(Command):
    """Rule 4: pay a merchant ``amount_fen`` of stable points."""

    user: str
    merchant: str
    amount_fen: int

    def __post_init__(self) -> None:
        Command.__post_init__(self)
        _check_name("user", self.user)
        _check_name("merchant", self.merchant)
        _check_int("amount", self.amount_fen)


@dataclass(frozen=True, slots=True, kw_only=True)
class RedeemStable(Command):
    """Rule 5: a merchant redeems stable points for treasury points at the current price."""

    merchant: str
    amount_fen: int

    def __post_init__(self) -> None:
        Command.__post_init__(self)
        _check_name("merchant", self.merchant)
        _check_int("amount", self.amount_fen)


@dataclass(frozen=True, slots=True, kw_only=True)
class Join(Command):
    """Bind ``user`` to ``referrer`` once (the referral tree is never rewritten)."""

    user: str
    referrer: str

    def __post_init__(self) -> None:
        Command.__post_init__(self)
        _check_name("user", self.user)
        _check_name("referrer", self.referrer)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeParams(Command):
    """An audited parameter change; ``changes`` are outside values by public name."""

    changes: Mapping[str, Any] = field(default_factory=dict)
    changed_by: str = "operator"

    def __post_init__(self) -> None:
        Command.__post_init__(self)
        if not isinstance(self.changes, Mapping) or not self.changes:
            raise DomainError("a parameter change needs at least one parameter")
        _check_name("changed_by", self.changed_by)
        try:
            json.dumps(self.changes)
        except (TypeError, ValueError):
            raise DomainError("parameter values must be JSON strings, lists or booleans") from None
        if any(isinstance(v, float) for v in self.changes.values()):
            raise DomainError("parameter values must be decimal strings, not floats")


def settle_key(business_date: date) -> str:
    return f"settle:{business_date.isoformat()}"


@dataclass(frozen=True, slots=True, kw_only=True)
class SettleDay(Command):
    """Rules 6 then 7 for one business day; its key is ``settle:<date>`` unless given."""

    business_date: date
    idempotency_key: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.business_date, date):
            raise DomainError("business_date must be a date")
        if not self.idempotency_key:
            object.__setattr__(self, "idempotency_key", settle_key(self.business_date))
        Command.__post_init__(self)


# -- money around the economy (domain/economy/cashflow.py) -------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _OrderMoney(Command):
    """``amount_fen`` of money for the order ``order_ref`` of ``user``."""

    user: str
    order_ref: str
    amount_fen: int

    def __post_init__(self) -> None:
        Command.__post_init__(self)
        _check_name("user", self.user)
        _check_name("order_ref", self.order_ref)
        _check_int("amount", self.amount_fen)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceivePayment(_OrderMoney):
    """A gateway paid for an order: the money waits in escrow until its rewards are booked
    (``Purchase(from_escrow=True)``) or it is refunded (``RefundPayment``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiveSale(_OrderMoney):
    """A gateway paid for a good sold outright (a primary NFG sale; ``order_ref`` names the
    sale): the money is revenue at once, no rewards are booked for it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RefundPayment(_OrderMoney):
    """Refund an order whose rewards are not booked yet (rule 9): escrow pays the gateway back."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RefundBooked(_OrderMoney):
    """An operator's audited adjustment: refund a booked order's money out of revenue (its
    rewards are taken back by ``ReverseOrderRewards`` first: rule 9)."""

    approved_by: str

    def __post_init__(self) -> None:
        _OrderMoney.__post_init__(self)
        _check_name("approved_by", self.approved_by)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReverseOrderRewards(Command):
    """A booked order is refunded (rule 9): burn the points it granted, remove the quota and
    spend it added, and record as debts what already left. ``approved_by``: the admin."""

    order_ref: str
    approved_by: str
    refund_fen: int | None = None  # a partial refund takes back that share; None: all of it

    def __post_init__(self) -> None:
        Command.__post_init__(self)
        _check_name("order_ref", self.order_ref)
        _check_name("approved_by", self.approved_by)
        _check_int("refund", self.refund_fen, optional=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class RefundStable(_OrderMoney):
    """Return the stable points ``user`` paid ``merchant`` for the order (a refunded order)."""

    merchant: str

    def __post_init__(self) -> None:
        _OrderMoney.__post_init__(self)
        _check_name("merchant", self.merchant)


def _check_pairs(what: str, pairs: object) -> None:
    if not isinstance(pairs, tuple):
        raise DomainError(f"{what} must be a tuple of (user, fen) pairs")
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise DomainError(f"{what} must be a tuple of (user, fen) pairs")
        _check_name(f"{what} user", pair[0])
        _check_int(f"{what} amount", pair[1])


@dataclass(frozen=True, slots=True, kw_only=True)
class FreezeCommissions(Command):
    """Set aside the order's distribution commissions (``commission_rates``, at most 3 levels
    up the buyer's referral chain) from revenue, frozen until the order completes.
    ``revenue_fen`` is what the order's booked purchase left as revenue: the cap."""

    buyer: str
    order_ref: str
    amount_fen: int
    revenue_fen: int

    def __post_init__(self) -> None:
        Command.__post_init__(self)
        _check_name("buyer", self.buyer)
        _check_name("order_ref", self.order_ref)
        _check_int("amount", self.amount_fen)
        _check_int("revenue", self.revenue_fen)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleaseCommissions(Command):
    """The order completed: its frozen commissions ``payouts`` go to the referrers' cash."""

    order_ref: str
    payouts: tuple[tuple[str, int], ...]

    def __post_init__(self) -> None:
        Command.__post_init__(self)
        _check_name("order_ref", self.order_ref)
        _check_pairs("payouts", self.payouts)
        if not self.payouts:
            raise DomainError("payouts must name at least one commission")


@dataclass(frozen=True, slots=True, kw_only=True)
class ClawbackCommissions(Command):
    """The order was refunded: ``frozen`` commissions return to revenue; ``paid`` ones are taken
    from the referrers' cash, and what it cannot cover becomes their debt."""

    order_ref: str
    frozen: tuple[tuple[str, int], ...] = ()
    paid: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        Command.__post_init__(self)
        _check_name("order_ref", self.order_ref)
        _check_pairs("frozen", self.frozen)
        _check_pairs("paid", self.paid)
        if not self.frozen and not self.paid:
            raise DomainError("a clawback needs at least one commission")


@dataclass(frozen=True, slots=True, kw_only=True)
class RepayDebt(Command):
    """``user`` pays ``amount_fen`` of what they owe out of their cash balance."""

    user: str
    amount_fen: int

    def __post_init__(self) -> None:
        Command.__post_init__(self)
        _check_name("user", self.user)
        _check_int("amount", self.amount_fen)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Withdrawal(Command):
    user: str
    withdrawal_ref: str
    amount_fen: int

    def __post_init__(self) -> None:
        Command.__post_init__(self)
        _check_name("user", self.user)
        _check_name("withdrawal_ref", self.withdrawal_ref)
        _check_int("amount", self.amount_fen)


@dataclass(frozen=True, slots=True, kw_only=True)
class HoldWithdrawal(_Withdrawal):
    """A withdrawal was requested: the user's cash is held until it is approved or refused."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PayWithdrawal(_Withdrawal):
    """An approved withdrawal was paid out to the user's bank."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleaseWithdrawal(_Withdrawal):
    """A refused or cancelled withdrawal: the held cash returns to the user."""


# -- the market's money (domain/economy/market_cash.py) -------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _MarketMoney(Command):
    """``amount_fen`` of ``user``'s market money for ``ref`` (a deposit's or an order's id)."""

    user: str
    ref: str
    amount_fen: int

    def __post_init__(self) -> None:
        Command.__post_init__(self)
        _check_name("user", self.user)
        _check_name("ref", self.ref)
        _check_int("amount", self.amount_fen)


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketDeposit(_MarketMoney):
    """A gateway paid market cash into the user's cash (``ref``: the deposit)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketReserve(_MarketMoney):
    """A resting bid (``ref``: the order) reserves its price from the bidder's cash."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketRelease(_MarketMoney):
    """A bid cancelled or expired (``ref``: the order): its reservation returns."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketTrade(Command):
    """One secondary trade (``ref``: the trade): ``buyer`` pays ``price_fen`` from cash, or
    from the escrow of their resting bid (``from_escrow``); ``seller`` gets the price less
    ``fee_fen`` (the platform's) and ``royalty_fen`` (the issuer's)."""

    buyer: str
    seller: str
    ref: str
    price_fen: int
    fee_fen: int
    royalty_fen: int
    issuer: str
    from_escrow: bool = False

    def __post_init__(self) -> None:
        Command.__post_init__(self)
        _check_name("buyer", self.buyer)
        _check_name("seller", self.seller)
        _check_name("ref", self.ref)
        _check_name("issuer", self.issuer)
        for what in ("price_fen", "fee_fen", "royalty_fen"):
            _check_int(what, getattr(self, what))
        if not isinstance(self.from_escrow, bool):
            raise DomainError("from_escrow must be true or false")


@dataclass(frozen=True, slots=True, kw_only=True)
class RoyaltyPayout(Command):
    """``amount_fen`` of the royalties the market's trades accrued to ``issuer`` paid into the
    issuer's cash (its payable balance, withdrawn like any cash); ``period``: the business day
    (``YYYY-MM-DD``) the payout closes."""

    issuer: str
    period: str
    amount_fen: int

    def __post_init__(self) -> None:
        Command.__post_init__(self)
        _check_name("issuer", self.issuer)
        _check_name("period", self.period)
        _check_int("amount", self.amount_fen)


MARKET_COMMANDS = (MarketDeposit, MarketReserve, MarketRelease, MarketTrade, RoyaltyPayout)

CASHFLOW_COMMANDS = (
    ReceivePayment,
    ReceiveSale,
    RefundPayment,
    RefundBooked,
    RefundStable,
    FreezeCommissions,
    ReleaseCommissions,
    ClawbackCommissions,
    RepayDebt,
    HoldWithdrawal,
    PayWithdrawal,
    ReleaseWithdrawal,
)

ECONOMY_COMMANDS = (Purchase, Sell, SellTo, Convert, PayStable, RedeemStable, Join, ChangeParams)
