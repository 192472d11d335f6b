"""Loading the slice of the market an action reads (``domain.market.records`` says which).

Nothing here decides anything: rows become the domain's records, and the profile, clock and
collection rules come from the tenant's settings through the domain's own constructors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from tokenmall.adapters.db.market import holder_places
from tokenmall.adapters.db.market.store import CollectionSettings, MarketSettings, OrderRow
from tokenmall.adapters.db.market.tables import PPM
from tokenmall.domain.mall.people import KycStatus
from tokenmall.domain.market import (
    CollectionRules,
    Market,
    MarketState,
    Order,
    OrderKind,
    OrderStatus,
    Profile,
    TenantCalendar,
    collection_rules,
    profile,
)
from tokenmall.domain.market.calendar import business_day as business_day
from tokenmall.domain.market.records import Account, CollectionState, HoldMarks, Token
from tokenmall.domain.nfg.records import Collection
from tokenmall.domain.nfg.records import Token as NfgToken
from tokenmall.services.mall.uow import MallUnitOfWork


def tenant_profile(unit: MallUnitOfWork, tenant_id: str) -> Profile:
    """The tenant's profile (``open`` without KYC until an admin chooses)."""
    found = unit.market.settings(tenant_id) or MarketSettings(tenant_id, "open", False)
    prof = profile(found.profile)
    return prof.with_kyc(found.kyc_required) if prof.name == "open" else prof


def calendar(unit: MallUnitOfWork, tenant_id: str) -> TenantCalendar:
    return TenantCalendar.of(unit.market.holidays(tenant_id))


def _ratio(ppm: int | None) -> Fraction | None:
    return None if ppm is None else Fraction(ppm, PPM)


@dataclass(frozen=True, slots=True)
class Known:
    """What a trade reads without a lock, read on the caller's own connection before the
    trade is queued for the tenant's writer (``batched.py``), so the writer's transaction
    does not spend its round trips on them: the tenant's profile and calendar, the
    collection's settings and the tenant's gift hold, the users' real-name status and the
    order's row as first read (its token, user and collection never change; it is read
    again under its lock). Whatever moves money or owners (cash, the order's status, the
    token, the holders, the marks) is still read under the locks."""

    prof: Profile
    cal: TenantCalendar
    settings: dict[str, CollectionSettings]
    tenant_gift_hold_days: int
    kyc: dict[str, bool]
    order: OrderRow | None
    flag: tuple[str, str, str | None] | None = None  # (buyer, seller, the watch's reason)


def known_for(
    unit: MallUnitOfWork,
    tenant_id: str,
    order_id: int,
    user_id: str,
    watch: Callable[[str, str], str | None] | None = None,
) -> Known:
    """``Known`` for a trade of ``order_id`` by ``user_id``, read without locks; with
    ``watch``, the wash-trade watch's reason for the buyer and the order's user (the seller
    of a take and of an accept), which reads only the referral tree and deposits."""
    row = unit.market.order(tenant_id, order_id)
    users = {user_id} if row is None else {user_id, row.user_id}
    settings: dict[str, CollectionSettings] = {}
    if row is not None:
        found = unit.market.collection(tenant_id, row.collection_id)
        settings[row.collection_id] = found or CollectionSettings(tenant_id, row.collection_id)
    return Known(
        prof=tenant_profile(unit, tenant_id),
        cal=calendar(unit, tenant_id),
        settings=settings,
        tenant_gift_hold_days=unit.nfg.gift_hold_days(tenant_id),
        kyc={u: _kyc(unit, tenant_id, u) for u in sorted(users)},
        order=row,
        flag=None if row is None or watch is None else (
            user_id, row.user_id, watch(user_id, row.user_id)
        ),
    )  # fmt: skip


def _kyc(unit: MallUnitOfWork, tenant_id: str, user_id: str) -> bool:
    # The member's real-name status (a reviewed submission sets it; an admin may revoke it).
    found = unit.people.get_user(tenant_id, user_id)
    return found is not None and found.kyc_status == KycStatus.VERIFIED


@dataclass
class Loader:
    """Fills a ``MarketState`` for one action of ``tenant_id`` at ``now`` (with ``known``,
    what it read before the action was queued)."""

    unit: MallUnitOfWork
    tenant_id: str
    now: datetime
    known: Known | None = None

    def __post_init__(self) -> None:
        if self.known is not None:
            self.prof, self.cal = self.known.prof, self.known.cal
        else:
            self.prof = tenant_profile(self.unit, self.tenant_id)
            self.cal = calendar(self.unit, self.tenant_id)
        self.today = business_day(self.now)
        self.state = MarketState(clock=self.cal.clock(self.today))
        self._rules: dict[str, tuple[CollectionSettings, CollectionRules]] = {}

    def market(self) -> Market:
        return Market(self.prof, self.state)

    def user(self, user_id: str) -> None:
        if user_id in self.state.accounts:
            return
        kyc = None if self.known is None else self.known.kyc.get(user_id)
        if kyc is None:
            kyc = _kyc(self.unit, self.tenant_id, user_id)
        cash = self.unit.cash.cash_of(self.tenant_id, user_id)
        self.state.accounts[user_id] = Account(cash=cash, kyc=kyc)

    def marks(self, user_id: str, collection_id: str) -> None:
        """The user's T+N marks in the collection (read by holds under cn-licensed)."""
        if (user_id, collection_id) not in self.state.holds:
            bought, sold = self.unit.market.marks(self.tenant_id, collection_id, user_id)
            self.state.holds[(user_id, collection_id)] = HoldMarks(bought, sold)

    def settings(self, collection_id: str) -> CollectionSettings:
        if self.known is not None and collection_id in self.known.settings:
            return self.known.settings[collection_id]
        return self.unit.market.collection(self.tenant_id, collection_id) or CollectionSettings(
            self.tenant_id, collection_id
        )

    def rules(self, collection_id: str) -> tuple[CollectionSettings, CollectionRules]:
        """The collection's settings and its rules (the settings over the profile's
        defaults), read once."""
        found = self._rules.get(collection_id)
        if found is None:
            s = self.settings(collection_id)
            rules = collection_rules(
                self.prof,
                fee_rate=Fraction(s.fee_ppm, PPM),
                royalty_rate=Fraction(s.royalty_ppm, PPM),
                band=_ratio(s.band_ppm),
                hold_trading_days=s.hold_trading_days,
                holder_limit=s.holder_limit,
                gift_hold_days=self._gift_hold_days(s),
            )
            found = self._rules[collection_id] = (s, rules)
        return found

    def _gift_hold_days(self, s: CollectionSettings) -> int:
        """The collection's own gift hold, else the longer of the profile's default and the
        tenant's NFG gift hold (so the registry's transfer and the market's gift agree)."""
        if s.gift_hold_days is not None:
            return s.gift_hold_days
        if self.known is not None:
            tenant_days = self.known.tenant_gift_hold_days
        else:
            tenant_days = self.unit.nfg.gift_hold_days(self.tenant_id)
        return max(tenant_days, self.prof.default_gift_hold_days)

    def collection(self, collection: Collection) -> CollectionState:
        found = self.state.collections.get(collection.collection_id)
        if found is not None:
            return found
        s, rules = self.rules(collection.collection_id)
        market = self.unit.market
        reference = market.last_price_before(self.tenant_id, collection.collection_id, self.today)
        reserving: frozenset[str] = frozenset()
        if rules.holder_limit is None:
            holders = market.holders(self.tenant_id, collection.collection_id)
        else:  # the places a newcomer counts: the buyers of open reservations take one too
            held, buying = holder_places.places(
                self.unit.conn, self.tenant_id, collection.collection_id
            )
            holders, reserving = held, frozenset(buying)
        col = CollectionState(
            id=collection.collection_id,
            issuer=collection.issuer_merchant_id or "platform",
            editions=collection.edition_size,
            primary_price=collection.price,
            rules=rules,
            minted=collection.minted,
            halted=s.halted,
            last_price=reference,
            holders=holders,
            reserving=reserving,
        )
        self.state.collections[col.id] = col
        return col

    def token(self, collection: Collection, token: NfgToken) -> Token:
        """The token, its collection and its open orders (an owner change cancels them)."""
        col = self.collection(collection)
        acquired = self.cal.clock(business_day(token.acquired_at))
        traded = self.cal.clock(business_day(token.traded_at or token.acquired_at))
        tok = Token(
            key=token.key,
            collection=col.id,
            serial=token.serial,
            owner=token.owner_id,
            state=token.state,
            acquired_day=acquired.calendar_day,
            acquired_trading_day=traded.settlement_day,
        )
        col.holders.add(token.owner_id)
        self.state.tokens[tok.key] = tok
        self.user(token.owner_id)
        for row in self.unit.market.open_orders_of_token(
            self.tenant_id, col.id, token.serial, for_update=True
        ):
            self.order(row)
        return tok

    def resting(self, best: OrderRow | None, collection_id: str) -> None:
        """The resting order a new one may trade with: it, its user and their T+N marks."""
        if best is not None:
            self.order(best)
            self.user(best.user_id)
            self.marks(best.user_id, collection_id)

    def order(self, row: OrderRow) -> Order:
        found = self.state.orders.get(row.order_id)
        if found is not None:
            return found
        order = Order(
            id=row.order_id,
            kind=OrderKind(row.kind),
            user=row.user_id,
            collection=row.collection_id,
            price=row.price,
            token=None if row.serial is None else f"{row.collection_id}/{row.serial}",
            to=row.to_user_id,
            status=OrderStatus(row.status),
            expires_day=row.expires_day,
        )
        self.state.add_order(order)
        self.user(row.user_id)
        return order
