"""The demo's NFG collections (``tokenmall demo``): a numbered vintage and a black card.

For the wine brand: 醇香 2015 珍藏赤霞珠, 1,000 numbered bottles whose token is a voucher of
the bottle (redeeming ships it), and 醇香黑卡, a black card whose holders alone may buy the
cellar's reserve and get 10 % off every order, with an entry right to the tasting room. Some
tokens are minted to the demo consumers, some given on (转赠), one bottle redeemed and
delivered (burned), one black card scanned at the door: the certificates and the transparency
log have a history at once.

The rows are made with the registry's storage (``SqlNfg``), the log's events
(``domain/nfg/events``) and ``services/log/appending.record``, one unit of work a step, the
redemption and the entry scan through their use cases. Every step is keyed (a collection that
exists, a token already minted or moved, a redemption or use already made is skipped), so
re-running adds nothing. Last, the settled ledger days are logged and a checkpoint signed (the
scheduler's tick), so ``tokenmall log verify`` has the whole history to check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from tokenmall.adapters.db.mall import people as people_repo
from tokenmall.domain.mall.people import User
from tokenmall.domain.nfg import events as ev
from tokenmall.domain.nfg.records import Collection, CollectionStatus, PriceAsset, Token, TokenState
from tokenmall.domain.nfg.rights import Rights
from tokenmall.services.log import public
from tokenmall.services.log.appending import record
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.mall import catalogue
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import Database, MallUnitOfWork, utc_now
from tokenmall.services.nfg import entry, redemption

TENANT_ID = "wine"
VINTAGE_ID = "col_demo_vintage_2015"
BLACK_CARD_ID = "col_demo_black_card"
CELLAR = "cellar@wine.demo"
ADMIN = "admin@wine.demo"
RESERVE_TITLE = "黑卡专享 · 2010 年份珍藏干红 750ml"

# (collection, owner's email) in serial order
MINTS: tuple[tuple[str, str], ...] = (
    (VINTAGE_ID, "li.na@wine.demo"),
    (VINTAGE_ID, "li.na@wine.demo"),
    (VINTAGE_ID, "wang.wei@wine.demo"),
    (VINTAGE_ID, "liu.yang@wine.demo"),
    (VINTAGE_ID, "zhang.min@wine.demo"),
    (BLACK_CARD_ID, "li.na@wine.demo"),
    (BLACK_CARD_ID, "wang.wei@wine.demo"),
    (BLACK_CARD_ID, "chen.jing@wine.demo"),
)
# (collection, serial, from, to): gifts (转赠)
GIFTS: tuple[tuple[str, int, str, str], ...] = (
    (VINTAGE_ID, 2, "li.na@wine.demo", "chen.jing@wine.demo"),
    (BLACK_CARD_ID, 3, "chen.jing@wine.demo", "zhao.li@wine.demo"),
)
REDEEMED = (VINTAGE_ID, 4)  # liu.yang's bottle: redeemed and delivered
SCANNED = (BLACK_CARD_ID, 1)  # li.na's black card: checked in at the tasting room


@dataclass(slots=True)
class NfgOutcome:
    certificate_urls: list[str] = field(default_factory=list)
    checkpoint_url: str = ""
    minted: int = 0


def _user(unit: MallUnitOfWork, email: str) -> User:
    found = people_repo.login_row(unit.conn, TENANT_ID, email)
    assert found is not None, email
    user = people_repo.get_user(unit.conn, TENANT_ID, found[0])
    assert user is not None
    return user


def _member(user: User) -> Principal:
    return Principal("session", "demo", user.user_id, user.tenant_id, user.role)


def add_collection(
    unit: MallUnitOfWork, config: LogConfig, collection: Collection, now: datetime
) -> None:
    """Store a collection and log its creation."""
    unit.nfg.add_collection(collection)
    record(unit.log, config, collection.tenant_id, [ev.collection_created(collection)], now)


def mint(
    unit: MallUnitOfWork,
    config: LogConfig,
    tenant_id: str,
    collection_id: str,
    owner_id: str,
    now: datetime,
) -> Token:
    """The collection's next serial, minted to ``owner_id`` (a grant) and logged."""
    assert unit.nfg.get_collection(tenant_id, collection_id, for_update=True) is not None
    (serial,) = unit.nfg.take_serials(tenant_id, collection_id, 1, from_reserved=False)
    token = Token(tenant_id, collection_id, serial, owner_id, TokenState.HELD, now)
    unit.nfg.add_tokens([token], now)
    record(unit.log, config, tenant_id, [ev.mint(collection_id, serial, owner_id, "grant")], now)
    return token


def give(
    unit: MallUnitOfWork,
    config: LogConfig,
    tenant_id: str,
    collection_id: str,
    serial: int,
    recipient_id: str,
    now: datetime,
) -> None:
    """A held token given to ``recipient_id`` (转赠), logged."""
    token = unit.nfg.get_token(tenant_id, collection_id, serial, for_update=True)
    assert token is not None
    assert token.state == TokenState.HELD
    unit.nfg.move_token(
        tenant_id, collection_id, serial, state=TokenState.HELD, now=now, owner_id=recipient_id
    )
    event = ev.transfer(collection_id, serial, token.owner_id, recipient_id)
    record(unit.log, config, tenant_id, [event], now)


def _reserve_sku(unit: MallUnitOfWork, now: datetime) -> str:
    """The cellar's reserve wine only black-card holders may buy (made once)."""
    cellar = unit.catalogue.merchant_of_owner(TENANT_ID, _user(unit, CELLAR).user_id)
    assert cellar is not None
    for product in unit.catalogue.list_products(TENANT_ID, cellar.merchant_id, False, None, 200):
        if product.title == RESERVE_TITLE:
            return unit.catalogue.list_skus(TENANT_ID, product.product_id)[0].sku_id
    admin = _member(_user(unit, ADMIN))
    product = catalogue.create_product(
        unit,
        admin,
        TENANT_ID,
        merchant_id=cellar.merchant_id,
        title=RESERVE_TITLE,
        description="酒庄地窖珍藏，仅醇香黑卡持有人可购。",
        now=now,
    )
    sku = catalogue.create_sku(
        unit,
        admin,
        TENANT_ID,
        product.product_id,
        name="750ml",
        price="588.00",
        stock=120,
        pool_contribution="150.00",
        now=now,
    )
    return sku.sku_id


def _bottle_sku(unit: MallUnitOfWork) -> tuple[str, str]:
    """The cellar's id and the SKU a vintage token redeems (珍藏赤霞珠 750ml)."""
    cellar = unit.catalogue.merchant_of_owner(TENANT_ID, _user(unit, CELLAR).user_id)
    assert cellar is not None
    for product in unit.catalogue.list_products(TENANT_ID, cellar.merchant_id, False, None, 200):
        if product.title.startswith("珍藏赤霞珠"):
            return cellar.merchant_id, unit.catalogue.list_skus(TENANT_ID, product.product_id)[
                0
            ].sku_id
    raise AssertionError("the demo's cellar has no 珍藏赤霞珠")


def _collections(unit: MallUnitOfWork, now: datetime) -> list[Collection]:
    cellar_id, bottle = _bottle_sku(unit)
    reserve = _reserve_sku(unit, now)
    vintage = Collection(
        tenant_id=TENANT_ID,
        collection_id=VINTAGE_ID,
        name="醇香 2015 珍藏赤霞珠 · 限量 1000 瓶",
        description="2015 年份，橡木桶陈酿 18 个月，每瓶独立编号；凭此藏品可提取实物一瓶。",
        issuer_merchant_id=cellar_id,
        edition_size=1000,
        price=268_00,
        price_asset=PriceAsset.MONEY,
        per_user_limit=2,
        rights=Rights(voucher_sku_id=bottle),
        status=CollectionStatus.PUBLISHED,
        created_at=now,
        linked_sku_id=bottle,
    )
    black_card = Collection(
        tenant_id=TENANT_ID,
        collection_id=BLACK_CARD_ID,
        name="醇香黑卡",
        description="持卡可购地窖珍藏，全场九折，并可进入酒庄品鉴室。",
        issuer_merchant_id=cellar_id,
        edition_size=100,
        price=2_000_00,
        price_asset=PriceAsset.STABLE,
        per_user_limit=1,
        rights=Rights(may_buy=(reserve,), discount_bps=1000, entry="醇香酒庄品鉴室"),
        status=CollectionStatus.PUBLISHED,
        created_at=now,
    )
    return [vintage, black_card]


def seed(
    db: Database,
    config: LogConfig,
    *,
    base_url: str = "http://127.0.0.1:8000",
    progress: Callable[[str], None] | None = None,
) -> NfgOutcome:
    """Set up (or finish) the demo's collections and their history; safe to re-run."""
    say = progress or (lambda _: None)
    outcome = NfgOutcome()
    now = utc_now()
    with db.unit() as unit:
        for collection in _collections(unit, now):
            if unit.nfg.get_collection(TENANT_ID, collection.collection_id) is None:
                say(f"creating the NFG collection {collection.name}")
                add_collection(unit, config, collection, now)
    for number, (collection_id, email) in enumerate(MINTS):
        serial = 1 + sum(1 for c, _ in MINTS[:number] if c == collection_id)
        with db.unit() as unit:
            if unit.nfg.get_token(TENANT_ID, collection_id, serial) is None:
                mint(unit, config, TENANT_ID, collection_id, _user(unit, email).user_id, now)
                outcome.minted += 1
    for collection_id, serial, sender, recipient in GIFTS:
        with db.unit() as unit:
            token = unit.nfg.get_token(TENANT_ID, collection_id, serial)
            if token is not None and token.owner_id == _user(unit, sender).user_id:
                give(
                    unit,
                    config,
                    TENANT_ID,
                    collection_id,
                    serial,
                    _user(unit, recipient).user_id,
                    now,
                )
    _redeem_one(db, config, now)
    _scan_one(db, config, now)
    public.tick(db, config, utc_now())  # the settled ledger days logged, a checkpoint signed
    base = base_url.rstrip("/")
    outcome.certificate_urls = [
        f"{base}/{TENANT_ID}/c/{VINTAGE_ID}/1",
        f"{base}/{TENANT_ID}/c/{VINTAGE_ID}/{REDEEMED[1]}",
        f"{base}/{TENANT_ID}/c/{BLACK_CARD_ID}/1",
    ]
    outcome.checkpoint_url = f"{base}/api/v1/tenants/{TENANT_ID}/log/checkpoint"
    return outcome


def _redeem_one(db: Database, config: LogConfig, now: datetime) -> None:
    collection_id, serial = REDEEMED
    with db.unit() as unit:
        token = unit.nfg.get_token(TENANT_ID, collection_id, serial)
        assert token is not None
        if token.state != TokenState.HELD or unit.redemptions.query(
            TENANT_ID, user_id=token.owner_id
        ):
            return
        owner = people_repo.get_user(unit.conn, TENANT_ID, token.owner_id)
        assert owner is not None
        address = unit.addresses.default_of(TENANT_ID, owner.user_id)
        assert address is not None
        asked = redemption.request(
            unit,
            _member(owner),
            TENANT_ID,
            collection_id=collection_id,
            serial=serial,
            address_id=address.address_id,
            config=config,
            now=now,
        )
    cellar = _member_of(db, CELLAR)
    with db.unit() as unit:
        redemption.ship(
            unit,
            cellar,
            TENANT_ID,
            asked.redemption_id,
            carrier="顺丰速运",
            tracking_number="SF1000000000001",
            now=now,
        )
    with db.unit() as unit:
        redemption.deliver(unit, cellar, TENANT_ID, asked.redemption_id, config=config, now=now)


def _member_of(db: Database, email: str) -> Principal:
    with db.reading() as unit:
        return _member(_user(unit, email))


def _scan_one(db: Database, config: LogConfig, now: datetime) -> None:
    collection_id, serial = SCANNED
    with db.unit() as unit:
        if unit.nfg.right_uses(TENANT_ID, collection_id, serial):
            return
        entry.scan(
            unit,
            _member(_user(unit, CELLAR)),
            TENANT_ID,
            certificate=f"/{TENANT_ID}/c/{collection_id}/{serial}",
            note="品鉴会签到",
            now=now,
            config=config,
        )


__all__ = ["NfgOutcome", "add_collection", "give", "mint", "seed"]
