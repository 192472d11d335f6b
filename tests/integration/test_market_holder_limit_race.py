"""Every market path that gives a token to a user new to a collection, racing for its last
holder place on PostgreSQL through the service layer: a gift (转赠) and an accepted agreement
(协议转让) each in a transaction of its own, a take (摘牌) and a crossing bid (求购) through the
tenant's writer, a listing crossing a newcomer's resting bid, and a gift of the very token that
listing sells. Round after round exactly one newcomer gets the place, every other action is a
clean refusal (``holder_limit``, or ``not_owner`` / ``token_locked`` for the loser of the one
token), never a deadlock or another error; the ledger and the registry stay consistent."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from tokenmall.adapters.db.market.store import CollectionSettings
from tokenmall.adapters.db.store import Store
from tokenmall.bench import market_race
from tokenmall.bootstrap import log_config
from tokenmall.domain.market import MarketRefused
from tokenmall.domain.nfg import events as ev
from tokenmall.domain.nfg.records import (
    Collection,
    CollectionStatus,
    PriceAsset,
    Token,
    TokenState,
)
from tokenmall.domain.nfg.rights import Rights
from tokenmall.services.ledger.audit import audit
from tokenmall.services.log.appending import record
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.log.verify import recompute
from tokenmall.services.mall import ids
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import Database, MallUnitOfWork
from tokenmall.services.market import batched, orders, trading
from tokenmall.services.nfg.state_check import check_tenant

ROUNDS = 12
PRICE = market_race.PRICE
NEWCOMERS = 7  # one a path below


def _collection(db: Database, config: LogConfig, t: str) -> str:
    """A collection with a holder limit of 2 (under ``open``, an admin's own setting)."""
    now = datetime.now(UTC)
    cid = ids.new_id("col")
    collection = Collection(
        tenant_id=t, collection_id=cid, name="race", description="", issuer_merchant_id=None,
        edition_size=20, price=PRICE, price_asset=PriceAsset.MONEY, per_user_limit=20,
        rights=Rights(), status=CollectionStatus.PUBLISHED, created_at=now,
    )  # fmt: skip
    with db.unit() as unit:
        unit.nfg.add_collection(collection)
        record(unit.log, config, t, [ev.collection_created(collection)], now)
        unit.market.put_collection(
            CollectionSettings(t, cid, 0, 0, holder_limit=2, gift_hold_days=0), now
        )
    return cid


def _mint(db: Database, config: LogConfig, t: str, cid: str, owner: str, n: int) -> list[int]:
    now = datetime.now(UTC)
    with db.unit() as unit:
        serials = unit.nfg.take_serials(t, cid, n, from_reserved=False)
        unit.nfg.add_tokens([Token(t, cid, s, owner, TokenState.HELD, now) for s in serials], now)
        record(unit.log, config, t, [ev.mint(cid, s, owner, "grant") for s in serials], now)
    return list(serials)


class _Round:
    """One round: a fresh collection (limit 2), its seller and seven newcomers, one a path."""

    def __init__(self, db: Database, config: LogConfig, s: market_race._Setup, a: list[str]):
        self.db, self.config, self.t, self.seller, self.a = db, config, s.tenant_id, s.seller, a
        self.cid = _collection(db, config, self.t)
        self.serials = _mint(db, config, self.t, self.cid, self.seller, 7)
        now = datetime.now(UTC)
        t, cid, seller, serials = self.t, self.cid, self.seller, self.serials
        with db.unit() as unit:
            offer = orders.offer(unit, self.who(seller), t, cid, serials[1], a[1], PRICE,
                                 now=now, config=config).order_id  # fmt: skip
            listed = orders.list_token(unit, self.who(seller), t, cid, serials[2], PRICE,
                                       now=now, config=config).order_id  # fmt: skip
            orders.list_token(unit, self.who(seller), t, cid, serials[3], PRICE, now=now,
                              config=config)  # fmt: skip
            for bidder, price in ((a[4], PRICE - 100), (a[6], PRICE - 200)):
                placed = trading.bid(unit, self.who(bidder), t, cid, price, now=now,
                                     config=config)  # fmt: skip
                assert placed.trades == ()  # resting: a bid checks its room when placed
        assert offer is not None
        assert listed is not None
        self.offer, self.listed = offer, listed

    def who(self, user: str) -> Principal:
        return market_race._member(self.t, user)

    def _own(self, action: Callable[[MallUnitOfWork, datetime], object]) -> object:
        with self.db.unit() as unit:
            return action(unit, datetime.now(UTC))

    def gift(self, serial: int, to: str) -> object:
        return self._own(lambda u, at: orders.gift(
            u, self.who(self.seller), self.t, self.cid, serial, to, now=at, config=self.config
        ))  # fmt: skip

    def list_into_bid(self, serial: int) -> object:
        return self._own(lambda u, at: orders.list_token(
            u, self.who(self.seller), self.t, self.cid, serial, PRICE - 1000, now=at,
            config=self.config,
        ))  # fmt: skip

    def accept(self) -> object:
        return self._own(lambda u, at: trading.accept(
            u, self.who(self.a[1]), self.t, self.offer, now=at, config=self.config
        ))  # fmt: skip

    def take(self) -> object:
        return batched.settle_batched(
            self.db, self.who(self.a[2]), self.t, self.listed, "take", now=datetime.now(UTC),
            config=self.config, answer=lambda *_: "taken",
        )  # fmt: skip

    def bid(self) -> object:
        who = self.who(self.a[3])

        def place(u: MallUnitOfWork, at: datetime, wait: bool) -> orders.Placed:
            return trading.bid(u, who, self.t, self.cid, PRICE, now=at, config=self.config,
                               wait=wait)  # fmt: skip

        return batched.place_batched(
            self.db,
            who,
            self.t,
            (self.cid, "bid", PRICE),
            place,
            now=datetime.now(UTC),
            answer=lambda *_: "bid",
        )

    def actions(self) -> list[Callable[[], object]]:
        s = self.serials
        return [
            lambda: self.gift(s[0], self.a[0]),
            self.accept,
            self.take,
            self.bid,
            lambda: self.list_into_bid(s[4]),
            # the same token given to a newcomer while it is listed into a newcomer's bid
            lambda: self.gift(s[5], self.a[5]),
            lambda: self.list_into_bid(s[5]),
        ]


def _race(actions: list[Callable[[], object]]) -> list[str]:
    start = threading.Barrier(len(actions))

    def run(action: Callable[[], object]) -> str:
        start.wait(30)
        try:
            action()
        except MarketRefused as refused:
            return str(refused.code)
        return "ok"

    with ThreadPoolExecutor(len(actions)) as pool:
        return list(pool.map(run, actions, timeout=120))


def test_every_path_to_a_newcomer_racing_for_the_last_holder_place(store: Store) -> None:
    if not store.postgres:
        pytest.skip("SQLite has one writer: two transactions never count the places at once")
    config = log_config("a-test-secret-of-enough-length-for-hmac", "log.test")
    db = Database(store.engine)
    s = market_race._Setup(db, config, 4, NEWCOMERS * ROUNDS)
    t = s.tenant_id
    outcomes: list[list[str]] = []
    for n in range(ROUNDS):
        one = _Round(db, config, s, s.buyers[n * NEWCOMERS : (n + 1) * NEWCOMERS])
        codes = _race(one.actions())
        outcomes.append(codes)
        assert codes.count("ok") == 1, codes
        assert set(codes) <= {"ok", "holder_limit", "not_owner", "token_locked", "not_found"}
        with db.reading() as reader:
            holders = reader.market.holders(t, one.cid)
        assert len(holders) == 2, (codes, holders)
        assert s.seller in holders
    (report,) = audit(store, t)
    assert report.findings == []
    with db.reading() as reader:
        leaves = list(enumerate(recompute(reader.log, t).fields))
        assert check_tenant(reader, t, leaves) is None
    winners = {codes.index("ok") for codes in outcomes}
    assert len(winners) > 1, outcomes  # more than one path won a round
