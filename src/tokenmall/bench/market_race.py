"""``tokenmall bench market --database URL``: the market's money over the real service.

A fresh tenant, a seller and ``buyers`` funded buyers (set up directly, not timed). Then:

- the race: ``runs`` times, the seller lists one token and every buyer takes it at once (one
  thread and one transaction each, through ``services.market.trading.take``): ``race_winners``
  counts the takes that succeeded (must equal ``race_runs``), ``double_charges`` the buyers
  charged more often than they won, ``race_errors`` anything but a clean refusal;
- throughput: ``buyers`` clients each take their own listing, ``rounds`` times over, at once:
  ``trades_per_second``. With ``group_commit`` (the default, as the API settles them) every
  take goes through the tenant's unit writer (``services.market.batched``: many trades a
  transaction); without it each take is one transaction of its own (the ledger's row lock);
- crossing bids: ``buyers`` clients each bid ``PRICE`` for the collection, ``rounds`` times
  over, at once, against as many resting listings (each bid trades with the cheapest, earliest
  listing left): ``crossing_bids_per_second`` and ``bid_trades`` (must equal ``bids``); with
  ``group_commit`` through the tenant's writer (``batched.place_batched``), else each bid one
  transaction of its own;
- ``conservation_ok``: Σ cash + the market's escrow, fees and royalties equals the deposits,
  no balance is negative, the audit is clean and the registry's owners equal the replay of the
  transparency log.

Wall-clock figures for a person to read; money stays in integers.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from tokenmall.adapters.db.mall import people as people_repo
from tokenmall.adapters.db.market.store import CollectionSettings
from tokenmall.adapters.db.store import Store
from tokenmall.bootstrap import log_config
from tokenmall.config import Settings
from tokenmall.domain.errors import DomainError
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.mall.people import KycStatus, Role, User
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
from tokenmall.services.mall import ids, journal, passwords, tenants
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import Database, MallUnitOfWork
from tokenmall.services.market import batched, orders, trading
from tokenmall.services.nfg.state_check import check_tenant

PRICE = 10_000  # fen: 100.00 a token
FUNDS = 100_000_000  # fen each buyer starts with


def _member(tenant_id: str, user_id: str) -> Principal:
    return Principal("session", "bench", user_id, tenant_id, Role.CONSUMER)


class _Setup:
    def __init__(self, db: Database, config: LogConfig, editions: int, buyers: int) -> None:
        self.db, self.config = db, config
        self.tenant_id = "mkt-" + secrets.token_hex(4)
        now = datetime.now(UTC)
        passwords.configure(fast_for_tests=True)  # throwaway users of one run; not timed
        digest = passwords.hash_password(secrets.token_urlsafe(16))
        operator = Principal("session", "bench", "op_bench", None, None)
        with db.unit() as unit:
            tenants.create(
                unit, operator,
                tenants.NewTenant(self.tenant_id, "Market bench", "seed", {},
                                  "admin@bench.invalid", secrets.token_urlsafe(16), "admin"),
                now,
            )  # fmt: skip
            self.users = [self._user(unit, n, digest, now) for n in range(buyers + 1)]
            self.seller, self.buyers = self.users[0], self.users[1:]
            self.collection_id = ids.new_id("col")
            collection = Collection(
                tenant_id=self.tenant_id, collection_id=self.collection_id, name="bench",
                description="", issuer_merchant_id=None, edition_size=editions, price=PRICE,
                price_asset=PriceAsset.MONEY, per_user_limit=editions, rights=Rights(),
                status=CollectionStatus.PUBLISHED, created_at=now,
            )  # fmt: skip
            unit.nfg.add_collection(collection)
            record(unit.log, config, self.tenant_id, [ev.collection_created(collection)], now)
            unit.market.put_collection(
                CollectionSettings(self.tenant_id, self.collection_id, 20_000, 50_000), now
            )
            for buyer in self.buyers:
                journal.run(unit.conn, c.MarketDeposit(
                    tenant_id=self.tenant_id, idempotency_key=f"bench:{buyer}", user=buyer,
                    ref=f"dep_{buyer}", amount_fen=FUNDS,
                ))  # fmt: skip
        self.deposits = FUNDS * buyers
        self.first_error: str | None = None
        self.group_commit = True

    def _user(self, unit: MallUnitOfWork, n: int, digest: str, now: datetime) -> str:
        user = User(
            tenant_id=self.tenant_id, user_id=ids.new_id("usr"),
            email=f"m{n}@bench.invalid", display_name=f"user {n}", role=Role.CONSUMER,
            kyc_status=KycStatus.NONE, invite_code=ids.new_invite_code(), inviter_id=None,
            created_at=now,
        )  # fmt: skip
        people_repo.add_user(unit.conn, user, digest)
        return user.user_id

    def listing(self, owner: str) -> int:
        """A new token minted to ``owner`` and listed at ``PRICE``: its order id."""
        now = datetime.now(UTC)
        t, cid = self.tenant_id, self.collection_id
        with self.db.unit() as unit:
            (serial,) = unit.nfg.take_serials(t, cid, 1, from_reserved=False)
            unit.nfg.add_tokens([Token(t, cid, serial, owner, TokenState.HELD, now)], now)
            record(unit.log, self.config, t, [ev.mint(cid, serial, owner, "grant")], now)
        with self.db.unit() as unit:
            placed = orders.list_token(
                unit, _member(self.tenant_id, owner), self.tenant_id, self.collection_id,
                serial, PRICE, now=now, config=self.config,
            )  # fmt: skip
        assert placed.order_id is not None
        return placed.order_id

    def bid(self, buyer: str) -> str:
        """``ok`` (it traded at once), ``rested``, ``refused`` or ``error``: one bid at
        ``PRICE``, through the tenant's writer when it crosses, or with ``group_commit`` off
        in its own transaction."""
        who, now, t = _member(self.tenant_id, buyer), datetime.now(UTC), self.tenant_id

        def place(unit: MallUnitOfWork, at: datetime, wait: bool) -> orders.Placed:
            return trading.bid(
                unit, who, t, self.collection_id, PRICE, now=at, config=self.config, wait=wait
            )

        try:
            if self.group_commit:
                return batched.place_batched(
                    self.db, who, t, (self.collection_id, "bid", PRICE), place, now=now,
                    answer=lambda _unit, placed: "ok" if placed.trades else "rested",
                ).body  # fmt: skip
            with self.db.unit() as unit:
                return "ok" if place(unit, now, True).trades else "rested"
        except DomainError:
            return "refused"
        except Exception as exc:
            if self.first_error is None:
                self.first_error = f"{type(exc).__name__}: {exc}"[:500]
            return "error"

    def take(self, buyer: str, order_id: int) -> str:
        """``ok``, ``refused`` or ``error``: one take through the tenant's writer, or with
        ``group_commit`` off in its own transaction."""
        who, now = _member(self.tenant_id, buyer), datetime.now(UTC)
        try:
            if self.group_commit:
                batched.settle_batched(self.db, who, self.tenant_id, order_id, "take", now=now,
                                       config=self.config, answer=lambda *_: "")  # fmt: skip
                return "ok"
            with self.db.unit() as unit:
                trading.take(unit, who, self.tenant_id, order_id, now=now,
                             config=self.config)  # fmt: skip
        except DomainError:
            return "refused"
        except Exception as exc:
            if self.first_error is None:
                self.first_error = f"{type(exc).__name__}: {exc}"[:500]
            return "error"
        return "ok"


def _cash(store: Store, tenant_id: str, users: list[str]) -> tuple[dict[str, int], Any]:
    with store.read() as conn:
        state, _ = store.load_state(conn, tenant_id)
        held = {h.name: h.cash for h in store.load_holders(conn, tenant_id, users)}
    return {u: held.get(u, 0) for u in users}, state


def run(
    database_url: str,
    *,
    runs: int = 1000,
    buyers: int = 64,
    rounds: int = 4,
    progress: Callable[[str], Any] | None = None,
    group_commit: bool = True,
) -> dict[str, Any]:
    say = progress or (lambda _: None)
    store = Store.open(database_url, pool_size=buyers + 4)
    try:
        db = Database(store.engine)
        settings = Settings()
        config = log_config(settings.secret_key.get_secret_value(), settings.log_host)
        s = _Setup(db, config, runs + 2 * buyers * rounds + 1, buyers)
        s.group_commit = group_commit
        wins: dict[str, int] = dict.fromkeys(s.buyers, 0)
        winners = errors = 0
        say(f"tenant {s.tenant_id}: {runs} races of {buyers} buyers …")
        with ThreadPoolExecutor(buyers) as pool:
            for _ in range(runs):
                order_id = s.listing(s.seller)
                results = list(pool.map(lambda b, o=order_id: s.take(b, o), s.buyers))
                for buyer, result in zip(s.buyers, results, strict=True):
                    wins[buyer] += result == "ok"
                winners += results.count("ok")
                errors += results.count("error")
            spent, _ = _cash(store, s.tenant_id, s.buyers)
            double = sum(1 for b in s.buyers if FUNDS - spent[b] != wins[b] * PRICE)
            say(f"throughput: {buyers} clients × {rounds} rounds …")
            work = [(b, s.listing(s.seller)) for _ in range(rounds) for b in s.buyers]
            began = time.perf_counter()
            done = list(pool.map(lambda job: s.take(*job), work))
            seconds = time.perf_counter() - began
            say(f"crossing bids: {buyers} clients × {rounds} rounds …")
            for _ in range(buyers * rounds):
                s.listing(s.seller)
            bidders = [b for _ in range(rounds) for b in s.buyers]
            began = time.perf_counter()
            bids = list(pool.map(s.bid, bidders))
            bid_seconds = time.perf_counter() - began
        cash, state = _cash(store, s.tenant_id, s.users)
        held = sum(cash.values()) + state.market_escrow + state.market_fees + state.royalties
        (report,) = audit(store, s.tenant_id)
        with db.reading() as unit:
            leaves = list(enumerate(recompute(unit.log, s.tenant_id).fields))
            owners = check_tenant(unit, s.tenant_id, leaves)
        conserved = held == s.deposits == state.market_deposits and min(cash.values()) >= 0
        return {
            "database": "postgresql" if store.postgres else "sqlite",
            "group_commit": group_commit,
            "race_runs": runs,
            "race_buyers": buyers,
            "race_winners": winners,
            "double_charges": double,
            "race_errors": errors,
            "trades": done.count("ok"),
            "trade_refusals": done.count("refused"),
            "trade_errors": done.count("error"),
            "trades_per_second": round(done.count("ok") / seconds, 1),
            "bids": len(bids),
            "bid_trades": bids.count("ok"),
            "bid_errors": bids.count("error"),
            "crossing_bids_per_second": round(bids.count("ok") / bid_seconds, 1),
            "conservation_ok": conserved and not report.findings and owners is None,
            "audit_findings": report.findings[:5],
            "owners_vs_log": owners,
            "first_error": s.first_error,
            "fees": state.market_fees,
            "royalties": state.royalties,
        }
    finally:
        store.dispose()
