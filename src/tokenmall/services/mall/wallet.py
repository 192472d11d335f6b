"""Economy endpoints of the mall: wallet, dividends, sell, convert, redeem,
leaderboard and price history.

Nothing here does arithmetic of its own. Balances are the ledger's holder rows; what backs them
is ``services.report.solvency`` (the same figures as ``GET …/economy/health``); a wallet's
buyback value is the engine's ``market.buyback_payout``; a preview applies the very command the
POST would run to a book loaded in a read-only transaction and throws the book away; shares and
levels are ``domain.economy.standing``'s. Holder names in the ledger are user ids (merchants':
merchant ids).

Every use case takes a ``UnitOfWork`` and returns a frozen dataclass of integers (fen, 1e-8
point units, the price as the exact fraction ``num/den``); the API schemas and the pages format
them. The views read its ports; ``preview`` tries the command on a throwaway book, and
``execute`` and ``redeem`` run it as one balanced journal in the unit's transaction (the
``trades`` port, ``unit_of_work_wallet.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from typing import Literal

from tokenmall.domain.economy import market, standing
from tokenmall.domain.economy.health import Health
from tokenmall.domain.economy.state import Holder, Rates
from tokenmall.domain.errors import DomainError
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.mall.people import Role
from tokenmall.domain.money import format_points, parse_points
from tokenmall.services.mall import ids, validate
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import InvalidInput, NotFound
from tokenmall.services.mall.people import ADMIN, ALL
from tokenmall.services.unit_of_work import UnitOfWork
from tokenmall.services.unit_of_work_wallet import Traded

Kind = Literal["sell", "convert"]
MAX_HISTORY_DAYS = 366


@dataclass(frozen=True, slots=True)
class Price:
    """The exact price: fen per 1e-8 point unit, ``num / den``."""

    num: int
    den: int


@dataclass(frozen=True, slots=True)
class BackedBy:
    """What backs the price and what the quota is: the solvency figures and their window."""

    health: Health
    window_days: int


@dataclass(frozen=True, slots=True)
class WalletView:
    """A user's wallet: money in fen, points in 1e-8 units."""

    user_id: str
    points: int
    price: Price
    points_value: int
    sell_fee_rate: Fraction
    convert_fee_rate: Fraction
    stable: int
    cash: int
    cash_withdrawing: int
    debt: int
    quota_total: int
    quota_used: int
    quota_left: int
    dividends_received: int
    spend: int
    shares: int
    level: str
    exited: bool
    backed_by: BackedBy
    # Rule 7 (forced exit on): what is left before the points' value at the price reaches the
    # remaining quota (0: at the next settlement they are bought back); None: rule off, or
    # nothing to exit from.
    forced_exit_gap: int | None = None


@dataclass(frozen=True, slots=True)
class DividendDay:
    business_date: date
    amount: int


@dataclass(frozen=True, slots=True)
class Trade:
    """A sell (cash) or a conversion (stable points), or its preview (no journal)."""

    kind: Kind
    points: int
    price: Price
    value_at_price: int
    fee: int
    fee_rate: Fraction
    receive: int
    journal_id: int | None = None

    @property
    def receive_as(self) -> Literal["cash", "stable"]:
        return "cash" if self.kind == "sell" else "stable"


@dataclass(frozen=True, slots=True)
class MerchantWallet:
    merchant_id: str
    stable: int
    points: int
    price: Price


@dataclass(frozen=True, slots=True)
class Rank:
    """A leaderboard row: a display name, never an email or an id."""

    rank: int
    name: str
    points: int
    level: str
    you: bool


@dataclass(frozen=True, slots=True)
class Close:
    """A UTC day's closing price in 1e-8 yuan per point (as the journal recorded it)."""

    day: date
    price_e8: int


@dataclass(frozen=True, slots=True)
class PriceHistory:
    days: int
    series: list[Close]
    current: Price


MAX_POINT_UNITS = 10**16  # the largest max supply there can be


def points_units(value: object, field: str = "points") -> int:
    """A positive decimal string of points to 1e-8 units, through the one parser."""
    if isinstance(value, str) and not value.isascii():
        raise InvalidInput(f"{field} must use the digits 0-9, got {value!r}", field)
    try:
        units = parse_points(value, field)
    except DomainError as exc:
        raise InvalidInput(str(exc), field) from None
    if units > MAX_POINT_UNITS:
        raise InvalidInput(f"{field} must be at most {format_points(MAX_POINT_UNITS)}", field)
    return units


def subject_of(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, user_id: str | None
) -> str:
    """The user whose wallet is read: the caller's own, or (admins) the one named."""
    who = require(caller, tenant_id, ALL if user_id is None else ADMIN)
    if user_id is None:
        return who.subject_id
    if uow.people.get_user(tenant_id, user_id) is None:
        raise NotFound(f"no user {user_id!r}")
    return user_id


def backed_by(uow: UnitOfWork, tenant_id: str, now: datetime) -> BackedBy:
    """What backs the price and what the quota is: the solvency report's figures."""
    return BackedBy(uow.trades.solvency(tenant_id, now), uow.trades.window_days())


def wallet(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    now: datetime,
    user_id: str | None = None,
) -> WalletView:
    subject = subject_of(uow, caller, tenant_id, user_id)
    params = uow.params.of(tenant_id)
    num, den = uow.holdings.price(tenant_id)
    h = uow.holdings.holder(tenant_id, subject)
    value = market.buyback_payout(Rates(params), h.points, num, den) if h.points else 0
    shares = standing.shares(params, h)
    return WalletView(
        user_id=subject,
        points=h.points,
        price=Price(num, den),
        points_value=value,
        sell_fee_rate=params.sell_fee_rate,
        convert_fee_rate=params.convert_fee_rate,
        stable=h.stable,
        cash=h.cash,
        cash_withdrawing=uow.trades.withdrawing(tenant_id, subject),
        debt=uow.cash.debt_of(tenant_id, subject),
        quota_total=h.quota,
        quota_used=h.quota_used,
        quota_left=0 if h.exited else h.remaining_quota,
        dividends_received=h.dividends,
        spend=h.spend,
        shares=shares,
        level=params.level_for(shares),
        exited=h.exited,
        backed_by=backed_by(uow, tenant_id, now),
        forced_exit_gap=_exit_gap(params.forced_exit, h, num, den),
    )


def _exit_gap(forced_exit: bool, h: Holder, num: int, den: int) -> int | None:
    if not forced_exit or h.exited or h.remaining_quota <= 0 or h.points <= 0:
        return None
    return max(h.remaining_quota - market.value_at_price(h.points, num, den), 0)


def dividends(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    days: int,
    user_id: str | None = None,
) -> list[DividendDay]:
    """The user's dividend day by day over the last ``days`` settled days, newest first."""
    subject = subject_of(uow, caller, tenant_id, user_id)
    return [DividendDay(d, fen) for d, fen in uow.holdings.dividend_days(tenant_id, subject, days)]


# -- sell and convert ---------------------------------------------------------------------------


def _command(kind: Kind, tenant_id: str, key: str, user: str, units: int) -> c.Sell | c.Convert:
    if kind == "sell":
        return c.Sell(tenant_id=tenant_id, idempotency_key=key, user=user, units=units)
    return c.Convert(tenant_id=tenant_id, idempotency_key=key, user=user, units=units)


def _outcome(kind: Kind, traded: Traded) -> Trade:
    """What a sell or convert means to the user: received, fee, at what price."""
    num, den = traded.price
    gross = market.value_at_price(traded.points, num, den)
    rate = traded.params.sell_fee_rate if kind == "sell" else traded.params.convert_fee_rate
    return Trade(
        kind=kind,
        points=traded.points,
        price=Price(num, den),
        value_at_price=gross,
        fee=gross - traded.received,
        fee_rate=rate,
        receive=traded.received,
        journal_id=traded.journal_id,
    )


def preview(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, kind: Kind, points: str
) -> Trade:
    """Exactly what ``POST /wallet/<kind>`` would do now; changes nothing (the command runs
    on a throwaway book)."""
    who = require(caller, tenant_id, ALL)
    units = points_units(points)
    command = _command(kind, tenant_id, "preview", who.subject_id, units)
    return _outcome(kind, uow.trades.preview(command))


def execute(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, kind: Kind, points: str
) -> Trade:
    """Sell points back (rule 2) or convert them to stable points (rule 3) through the ledger."""
    who = require(caller, tenant_id, ALL)
    units = points_units(points)
    key = f"wallet:{ids.new_id(kind[:4])}"
    command = _command(kind, tenant_id, key, who.subject_id, units)
    return _outcome(kind, uow.trades.trade(command))


# -- merchants redeem stable points -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Redemption:
    """A merchant's redemption: stable fen in, points out, at the price the journal
    recorded (1e-8 yuan per point)."""

    merchant_id: str
    amount: int
    points: int
    price_e8: int
    journal_id: int


def redeem(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, merchant_id: str, amount: str
) -> Redemption:
    """A merchant turns stable points into treasury points at the current price (rule 5)."""
    who = require(caller, tenant_id, (Role.MERCHANT, Role.ADMIN))
    merchant = uow.catalogue.get_merchant(tenant_id, merchant_id)
    if merchant is None:
        raise NotFound(f"no merchant {merchant_id!r}")
    if who.role != Role.ADMIN and merchant.owner_user_id != who.subject_id:
        raise NotFound(f"no merchant {merchant_id!r}")
    fen = validate.money(amount, "amount")
    done = uow.trades.redeem(
        c.RedeemStable(
            tenant_id=tenant_id,
            idempotency_key=f"wallet:{ids.new_id('rdm')}",
            merchant=merchant_id,
            amount_fen=fen,
        )
    )
    return Redemption(merchant_id, done.amount, done.points, done.price_e8, done.journal_id)


def merchant_wallet(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, merchant_id: str
) -> MerchantWallet:
    who = require(caller, tenant_id, (Role.MERCHANT, Role.ADMIN))
    merchant = uow.catalogue.get_merchant(tenant_id, merchant_id)
    if merchant is None or (who.role != Role.ADMIN and merchant.owner_user_id != who.subject_id):
        raise NotFound(f"no merchant {merchant_id!r}")
    h = uow.holdings.holder(tenant_id, merchant_id)
    return MerchantWallet(merchant_id, h.stable, h.points, Price(*uow.holdings.price(tenant_id)))


# -- leaderboard --------------------------------------------------------------------------------


def leaderboard(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, limit: int
) -> list[Rank]:
    """The top holders by points (``standing.leaderboard``'s order: points, then who got there
    first); names are display names (users) or store names (merchants), never emails or ids."""
    who = require(caller, tenant_id, ALL)
    params = uow.params.of(tenant_id)
    found = {h.name: h for h in uow.holdings.top_holders(tenant_id, limit)}
    ranks = standing.leaderboard(found.values(), limit)
    names = uow.holdings.display_names(tenant_id, list(found))
    return [
        Rank(
            rank=r.rank,
            name=names.get(r.holder, "—"),
            points=r.units,
            level=standing.level(params, found[r.holder]),
            you=r.holder == who.subject_id,
        )
        for r in ranks
    ]


# -- price history ------------------------------------------------------------------------------


def _last_before(uow: UnitOfWork, tenant_id: str, lo: int, hi: int, moment: datetime) -> int:
    """The greatest journal id in ``[lo, hi]`` created before ``moment`` (``lo - 1`` if none),
    by binary search over the primary key: journal ids are dense and in commit order."""
    created_at = uow.journals.created_at
    found = lo - 1
    if lo > hi or created_at(tenant_id, lo) >= moment:
        return found  # nothing in range before the moment (days before the first journal)
    if created_at(tenant_id, hi) < moment:
        return hi  # everything in range is before it (days after the last journal)
    while lo <= hi:
        mid = (lo + hi) // 2
        if created_at(tenant_id, mid) < moment:
            found, lo = mid, mid + 1
        else:
            hi = mid - 1
    return found


def price_history(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, days: int, now: datetime
) -> PriceHistory:
    """Daily closes (UTC days) of the last ``days`` days and the current price.

    A day's close is the price recorded by the last purchase, buyback, conversion or redemption
    journal created before the day ended. Each day costs a binary search over the journals'
    primary key (about log2(journals) point reads) and one backward index scan: cheap on any
    size of ledger, no table scan."""
    require(caller, tenant_id, ALL)
    last_id = uow.journals.last_id(tenant_id)
    today = now.astimezone(UTC).date()
    series: list[Close] = []
    lo = 1
    for offset in range(days - 1, -1, -1):
        day: date = today - timedelta(days=offset)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
        upto = _last_before(uow, tenant_id, lo, last_id, end) if last_id else 0
        lo = max(upto, 1)
        close = uow.journals.close(tenant_id, upto) if upto >= 1 else None
        if close is not None:
            series.append(Close(day, close))
    return PriceHistory(days, series, Price(*uow.holdings.price(tenant_id)))
