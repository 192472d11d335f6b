"""The living demo (``tokenmall demo``): the seed's wine brand with a history, set up once.

Everything goes through the same use cases as the API and the pages: the tenant, its people and
its catalogue through ``services/mall`` (as the platform operator and the tenant's admin would),
each order's money through ``services/mall/order_ledger.py`` (``record_payment`` then
``book_rewards``, stock taken with ``catalogue.reserve``), referral bindings, sells and
conversions as ledger commands, and each past business day settled with the ledger's
``SettleDay`` through ``services.ledger.execute``. No figure is written by hand.

Re-running is safe: every step is keyed. The tenant and its people are created in one
transaction only if the tenant does not exist; each order is skipped when its purchase journal
exists; settling a day twice returns the first result. The history's dates are counted back from
the day the tenant was created, so a run on a later day resumes the same history instead of
adding another.

The orders are ledger orders (money and rewards), not rows of the mall's order tables.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Connection

from tokenmall.adapters.db.mall import catalogue as catalogue_repo
from tokenmall.adapters.db.mall import idempotency as idempotency_repo
from tokenmall.adapters.db.mall import orders as orders_repo
from tokenmall.adapters.db.mall import payments as payments_repo
from tokenmall.adapters.db.mall import people as people_repo
from tokenmall.adapters.db.mall import refunds as refunds_repo
from tokenmall.adapters.db.mall import tenants as tenants_repo
from tokenmall.adapters.db.mall import withdrawals as withdrawals_repo
from tokenmall.adapters.db.store import Store
from tokenmall.adapters.payments.sandbox import SandboxGateway
from tokenmall.demo import kyc as demo_kyc
from tokenmall.demo import storefront
from tokenmall.domain.errors import DomainError
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.mall.catalogue import Sku
from tokenmall.domain.mall.people import KycStatus, Role, User
from tokenmall.domain.money import POINT_SCALE, format_money
from tokenmall.services.ledger import execute as ledger
from tokenmall.services.mall import (
    addresses,
    cart,
    catalogue,
    checkout,
    idempotency,
    operators,
    order_clock,
    order_refunds,
    orders,
    payments,
    people,
    settling,
    tenants,
    withdrawals,
)
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import Database, MallUnitOfWork, utc_now

TENANT_ID = "wine"
TENANT_NAME = "醇香酒业 · 演示"
PASSWORD = "demo-password"
OPERATOR_EMAIL = "operator@tokenmall.demo"
ADMIN_EMAIL = "admin@wine.demo"
HISTORY_DAYS = 14
# The demo pays on the sandbox with its own signing key: it signs and verifies its own events.
GATEWAY_SECRET = "tokenmall-demo-sandbox"

# (email, display name, email of the inviter or None): the referral tree.
CONSUMERS: tuple[tuple[str, str, str | None], ...] = (
    ("li.na@wine.demo", "李娜", None),
    ("wang.wei@wine.demo", "王伟", "li.na@wine.demo"),
    ("zhang.min@wine.demo", "张敏", "wang.wei@wine.demo"),
    ("liu.yang@wine.demo", "刘洋", "li.na@wine.demo"),
    ("chen.jing@wine.demo", "陈静", "zhang.min@wine.demo"),
    ("yang.lei@wine.demo", "杨磊", "liu.yang@wine.demo"),
    ("zhao.li@wine.demo", "赵丽", "wang.wei@wine.demo"),
)

# Each consumer's shipping address (收货地址), by email: (recipient, phone, region, detail, postal
# code). Fictitious; the demo's orders carry a snapshot of them.
ADDRESSES: dict[str, tuple[str, str, str, str, str]] = {
    "li.na@wine.demo": (
        "李娜",
        "13800138001",
        "浙江省 杭州市 西湖区",
        "文三路 478 号 1203 室",
        "310012",
    ),
    "wang.wei@wine.demo": (
        "王伟",
        "13900139002",
        "上海市 上海市 浦东新区",
        "世纪大道 100 号 8 楼",
        "200120",
    ),
    "zhang.min@wine.demo": (
        "张敏",
        "13700137003",
        "北京市 北京市 海淀区",
        "中关村大街 27 号 502 室",
        "100080",
    ),
    "liu.yang@wine.demo": (
        "刘洋",
        "0571-88886666",
        "浙江省 杭州市 滨江区",
        "网商路 699 号 3 幢",
        "310052",
    ),
    "chen.jing@wine.demo": (
        "陈静",
        "15800158005",
        "广东省 深圳市 南山区",
        "科技园南区 18 栋 1101",
        "518057",
    ),
    "yang.lei@wine.demo": (
        "杨磊",
        "18600186006",
        "四川省 成都市 武侯区",
        "天府大道 88 号 2 单元 701",
        "610041",
    ),
    "zhao.li@wine.demo": (
        "赵丽",
        "13600136007",
        "江苏省 南京市 鼓楼区",
        "中山路 321 号 15 楼",
        "210008",
    ),
}

# (email, display name, store name, products: (title, description, price, contribution, stock))
MERCHANTS: tuple[tuple[str, str, str, tuple[tuple[str, str, str, str | None, int], ...]], ...] = (
    (
        "cellar@wine.demo",
        "醇香酒庄",
        "醇香酒庄",
        (
            (
                "醇香干红葡萄酒 750ml",
                "种子示例的 100 元一瓶：其中 30 元进入底池。",
                "100.00",
                "30.00",
                5000,
            ),
            ("珍藏赤霞珠 750ml", "橡木桶陈酿 18 个月。", "268.00", "80.00", 800),
            ("起泡酒礼盒（两支装）", "节日送礼之选。", "188.00", None, 600),
        ),
    ),
    (
        "tools@wine.demo",
        "酒具优选",
        "酒具优选",
        (
            ("水晶醒酒器", "无铅水晶，1.5 升。", "129.00", None, 300),
            ("海马刀开瓶器", "不锈钢，双段式。", "39.00", "5.00", 1000),
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class Login:
    role: str
    email: str
    password: str
    url: str


@dataclass
class Outcome:
    tenant_id: str
    created: bool  # the tenant was made by this run
    orders_booked: int = 0  # orders booked by this run (0 on a re-run)
    days_settled: list[str] = field(default_factory=list)
    logins: list[Login] = field(default_factory=list)


def _operator(conn: Connection) -> Principal:
    found = people_repo.operator_login_row(conn, OPERATOR_EMAIL)
    assert found is not None
    return Principal("operator_session", "demo", found[0], None, None)


def _member(user: User) -> Principal:
    return Principal("session", "demo", user.user_id, user.tenant_id, user.role)


def _user(conn: Connection, email: str) -> User:
    found = people_repo.login_row(conn, TENANT_ID, email)
    assert found is not None, email
    user = people_repo.get_user(conn, TENANT_ID, found[0])
    assert user is not None
    return user


def _create_tenant(conn: Connection) -> None:
    now = utc_now()
    tenants.create(
        MallUnitOfWork.joining(conn),
        _operator(conn),
        tenants.NewTenant(
            tenant_id=TENANT_ID,
            name=TENANT_NAME,
            preset="seed",
            params={"grant_on": "paid"},
            admin_email=ADMIN_EMAIL,
            admin_password=PASSWORD,
            admin_display_name="酒业管理员",
        ),
        now,
    )
    admin = _member(_user(conn, ADMIN_EMAIL))
    for email, name, store, products in MERCHANTS:
        owner = people.create_user(
            MallUnitOfWork.joining(conn),
            admin,
            TENANT_ID,
            email=email,
            password=PASSWORD,
            display_name=name,
            role=Role.MERCHANT,
            now=now,
        )
        merchant = catalogue.create_merchant(
            MallUnitOfWork.joining(conn), admin, TENANT_ID, store, owner.user_id, now
        )
        for title, description, price, contribution, stock in products:
            product = catalogue.create_product(
                MallUnitOfWork.joining(conn),
                admin,
                TENANT_ID,
                merchant_id=merchant.merchant_id,
                title=title,
                description=description,
                now=now,
            )
            catalogue.create_sku(
                MallUnitOfWork.joining(conn),
                admin,
                TENANT_ID,
                product.product_id,
                name=title,
                price=price,
                stock=stock,
                pool_contribution=contribution,
                now=now,
            )
    for email, name, inviter_email in CONSUMERS:
        invite = None if inviter_email is None else _user(conn, inviter_email).invite_code
        people.register(
            MallUnitOfWork.joining(conn),
            TENANT_ID,
            email=email,
            password=PASSWORD,
            display_name=name,
            invite_code=invite,
            now=now,
        )


def _bind_referrals(conn: Connection) -> None:
    """The referral tree in the ledger (the economy's Join), once per consumer; skipped where
    the registration already bound it."""
    store = Store(conn.engine)
    for email, _, inviter_email in CONSUMERS:
        if inviter_email is None:
            continue
        user, inviter = _user(conn, email), _user(conn, inviter_email)
        holders = store.load_holders(conn, TENANT_ID, [user.user_id])
        if holders and holders[0].referrer is not None:
            continue
        ledger.execute_in(
            store,
            conn,
            c.Join(
                tenant_id=TENANT_ID,
                idempotency_key=f"demo:join:{user.user_id}",
                user=user.user_id,
                referrer=inviter.user_id,
            ),
        )


def _give_addresses(conn: Connection, now: datetime) -> None:
    """Each demo consumer's address, once (skipped for those who have one): the checkouts then
    ship to it (the default) and the orders show where they go."""
    for email, (recipient, phone, region, detail, postal) in ADDRESSES.items():
        who = _member(_user(conn, email))
        if addresses.list_addresses(MallUnitOfWork.joining(conn), who, TENANT_ID):
            continue
        values = addresses.checked(
            recipient=recipient, phone_number=phone, region=region, detail=detail, postal=postal
        )
        unit = MallUnitOfWork.joining(conn)
        addresses.create(unit, who, TENANT_ID, values, make_default=True, now=now)


def _skus(conn: Connection) -> list[Sku]:
    """The SKUs of the products the history is made of (``MERCHANTS``): products added later
    (the NFG demo's, a merchant's in the console) never change a re-run's keyed orders."""
    admin = _member(_user(conn, ADMIN_EMAIL))
    titles = {title for _, _, _, products in MERCHANTS for title, *_ in products}
    found: list[Sku] = []
    for product in catalogue.list_products(
        MallUnitOfWork.joining(conn), admin, TENANT_ID, None, None, 200
    ):
        if product.title not in titles:
            continue
        found.extend(
            catalogue.get_product(
                MallUnitOfWork.joining(conn), admin, TENANT_ID, product.product_id
            )[1]
        )
    return found


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    """A moment of a history day in the business time zone (UTC+8), as the services take it."""
    return datetime.combine(day, time(hour, minute), tzinfo=settling.BUSINESS_TZ).astimezone(UTC)


def _placed(conn: Connection, key: str, buyer: User, sku: Sku, quantity: int, at: datetime) -> str:
    """The order of ``key``: put in the buyer's cart and checked out once (the key is kept in
    the idempotency store, as the API keeps an Idempotency-Key); its id on every later run."""
    who = _member(buyer)
    request = idempotency.request_hash("DEMO", "checkout", [sku.sku_id, quantity])

    def act() -> tuple[int, str]:
        cart.add_line(MallUnitOfWork.joining(conn), who, TENANT_ID, sku.sku_id, quantity, at)
        done = checkout.checkout(
            MallUnitOfWork.joining(conn),
            who,
            TENANT_ID,
            lines=None,  # the cart
            payment_method="money",
            stable_amount=None,
            gateway=_gateway(),
            now=at,
        )
        return 201, done.orders[0].order_id

    answer, _ = idempotency.run(
        MallUnitOfWork.joining(conn),
        tenant_id=TENANT_ID,
        scope="demo",
        key=key,
        request=request,
        action=act,
        now=at,
    )
    return answer.body


def _gateway() -> SandboxGateway:
    return SandboxGateway(GATEWAY_SECRET)


def _pay(db: Database, order_id: str, at: datetime) -> None:
    """Pay the order on the sandbox: its signed "payment.succeeded" event, as its page sends."""
    gateway = _gateway()
    with db.read() as conn:
        order = orders_repo.get_order(conn, TENANT_ID, order_id)
        assert order is not None
        if order.status != "created":
            return
        payment = next(p for p in payments_repo.payments_of(conn, TENANT_ID, order_id))
    body = gateway.event_body(
        provider_ref=payment.provider_ref,
        outcome="payment.succeeded",
        amount_fen=payment.amount_fen,
        now=at,
    )
    payments.handle_callback(db, gateway, gateway.signed_headers(body, at), body, at)


def _deliver(db: Database, order_id: str, day: date, now: datetime) -> None:
    """Ship the order the next day and the buyer confirms receipt the day after, as far as
    those days have come."""
    shipped_at, received_at = _at(day + timedelta(days=1), 10), _at(day + timedelta(days=2), 15)
    with db.transaction() as conn:
        order = orders_repo.get_order(conn, TENANT_ID, order_id)
        assert order is not None
        if order.status == "paid" and shipped_at <= now:
            merchant = catalogue_repo.get_merchant(conn, TENANT_ID, order.merchant_id)
            assert merchant is not None
            seller = people_repo.get_user(conn, TENANT_ID, merchant.owner_user_id)
            assert seller is not None
            order = orders.ship(
                MallUnitOfWork.joining(conn),
                _member(seller),
                TENANT_ID,
                order_id,
                carrier="顺丰速运",
                tracking_number="SF" + order_id[-10:].upper(),
                now=shipped_at,
            )
        if order.status == "shipped" and received_at <= now:
            buyer = people_repo.get_user(conn, TENANT_ID, order.user_id)
            assert buyer is not None
            uow = MallUnitOfWork.joining(conn)
            orders.confirm_receipt(uow, _member(buyer), TENANT_ID, order_id, received_at)


def _days_of(db: Database, order_ids: list[str]) -> list[date]:
    """The business day each order was placed on."""
    found = []
    with db.read() as conn:
        for order_id in order_ids:
            order = orders_repo.get_order(conn, TENANT_ID, order_id)
            assert order is not None
            found.append(order.created_at.astimezone(settling.BUSINESS_TZ).date())
    return found


def _pending_requests(db: Database, users: dict[str, User], now: datetime) -> None:
    """Something for the admin to decide: a withdrawal awaiting approval (王伟, verified) and a
    refund requested of a received order — once each."""
    with db.transaction() as conn:
        admin = _member(_user(conn, ADMIN_EMAIL))
        asker = users["wang.wei@wine.demo"]
        if not withdrawals_repo.list_withdrawals(
            conn, TENANT_ID, user_id=asker.user_id, status=None, after=None, limit=1
        ):
            people.update_user(
                MallUnitOfWork.joining(conn),
                admin,
                TENANT_ID,
                asker.user_id,
                role=None,
                kyc_status=KycStatus.VERIFIED,
            )
            holders = Store(conn.engine).load_holders(conn, TENANT_ID, [asker.user_id])
            cash = holders[0].cash if holders else 0
            amount = min(cash // 2 // 100 * 100, 50_00)
            if amount >= 1_00:
                withdrawals.request(
                    MallUnitOfWork.joining(conn),
                    _member(asker),
                    TENANT_ID,
                    format_money(amount),
                    now,
                )
    with db.transaction() as conn:
        buyer = users["zhao.li@wine.demo"]
        mine = orders_repo.list_orders(
            conn,
            TENANT_ID,
            user_id=buyer.user_id,
            merchant_id=None,
            status="received",
            after=None,
            limit=50,
        )
        if mine and not any(refunds_repo.refunds_of(conn, TENANT_ID, o.order_id) for o in mine):
            order_refunds.request_refund(
                MallUnitOfWork.joining(conn),
                _member(buyer),
                TENANT_ID,
                mine[-1].order_id,
                "瓶塞有破损，申请退货",
                now,
            )


def _market(conn: Connection, day_index: int, users: dict[str, User]) -> None:
    """A little of the market on some days: a conversion to stable points and a sell."""
    store = Store(conn.engine)
    moves: dict[int, tuple[str, str, int]] = {
        5: ("convert", "li.na@wine.demo", 5),
        9: ("sell", "wang.wei@wine.demo", 2),
        11: ("convert", "liu.yang@wine.demo", 3),
    }
    move = moves.get(day_index)
    if move is None:
        return
    kind, email, points = move
    user = users[email]
    key = f"demo:{kind}:{day_index}"
    units = points * POINT_SCALE
    command: c.Command
    if kind == "sell":
        command = c.Sell(tenant_id=TENANT_ID, idempotency_key=key, user=user.user_id, units=units)
    else:
        command = c.Convert(
            tenant_id=TENANT_ID, idempotency_key=key, user=user.user_id, units=units
        )
    try:
        with conn.begin_nested():
            ledger.execute_in(store, conn, command)
    except DomainError:
        pass  # not enough points that day in this history: the move is simply left out


def seed(
    db: Database,
    *,
    base_url: str = "http://127.0.0.1:8000",
    days: int = HISTORY_DAYS,
    progress: Callable[[str], None] | None = None,
    leave_unsettled: int = 0,
) -> Outcome:
    """Set up (or finish setting up) the demo tenant; safe to run any number of times.

    ``leave_unsettled`` days at the end of the history get their orders but no settlement (the
    console's tests settle one themselves)."""
    say = progress or (lambda _: None)
    with db.unit() as uow:
        operators.ensure(uow, OPERATOR_EMAIL, PASSWORD, utc_now())
    created = False
    with db.transaction() as conn:
        if not tenants_repo.exists(conn, TENANT_ID):
            say("creating the tenant, its merchants, products and consumers")
            _create_tenant(conn)
            created = True
    with db.transaction() as conn:
        _bind_referrals(conn)
        _give_addresses(conn, utc_now())
        storefront.dress(conn, _member(_user(conn, ADMIN_EMAIL)), TENANT_ID, utc_now())
        tenant = tenants_repo.get(conn, TENANT_ID)
        assert tenant is not None
        skus = _skus(conn)
        users = {email: _user(conn, email) for email, _, _ in CONSUMERS}
    outcome = Outcome(TENANT_ID, created)
    first_day = tenant.created_at.date() - timedelta(days=days)
    rng = random.Random(20261130)  # the same history on every run: orders are keyed by it
    bottle = next(s for s in skus if s.price_fen == 100_00 and s.pool_contribution_fen == 30_00)
    store = Store(db.engine)
    say(f"booking orders and settling {days} past days")
    now = utc_now()
    placed: list[str] = []
    for index in range(days):
        day = first_day + timedelta(days=index)
        count = 3 + rng.randrange(6) + index // 3  # sales grow a little over the fortnight
        plan: list[tuple[User, Sku, int]] = []
        for number in range(count):
            if index == 0 and number == 0:
                plan.append((users["li.na@wine.demo"], bottle, 1))  # the seed's first order
                continue
            buyer = users[CONSUMERS[rng.randrange(len(CONSUMERS))][0]]
            sku = bottle if rng.random() < 0.5 else skus[rng.randrange(len(skus))]
            plan.append((buyer, sku, 1 + (rng.random() < 0.2)))
        for number, (buyer, sku, quantity) in enumerate(plan):
            at = _at(day, 9 + number * 12 // max(len(plan), 1), (number * 17) % 60)
            key = f"demo-order-{day.isoformat()}-{number:02d}"
            with db.transaction() as conn:
                if idempotency_repo.find(conn, TENANT_ID, "demo", key) is None:
                    outcome.orders_booked += 1
                order_id = _placed(conn, key, buyer, sku, quantity, at)
            _pay(db, order_id, at + timedelta(minutes=2))
            placed.append(order_id)
        with db.transaction() as conn:
            _market(conn, index, users)
        if index < days - leave_unsettled:
            ledger.execute(store, c.SettleDay(tenant_id=TENANT_ID, business_date=day))
            outcome.days_settled.append(day.isoformat())
    last_day = first_day + timedelta(days=days - 1)
    for order_id, day in zip(placed, _days_of(db, placed), strict=True):
        if day < last_day:  # the last day's orders wait for the merchant to ship them
            _deliver(db, order_id, day, now)
    # Orders received longer ago than the return window complete: escrow released to the
    # merchant, commissions released (the scheduler's own job).
    order_clock.complete_due_orders(db, TENANT_ID, now)
    _pending_requests(db, users, now)
    demo_kyc.seed(db, TENANT_ID, _member(users[demo_kyc.WAITING[0]]), now)
    base = base_url.rstrip("/")
    outcome.logins = [
        Login("consumer", CONSUMERS[0][0], PASSWORD, f"{base}/{TENANT_ID}/login"),
        Login("merchant", MERCHANTS[0][0], PASSWORD, f"{base}/{TENANT_ID}/login"),
        Login("tenant admin", ADMIN_EMAIL, PASSWORD, f"{base}/{TENANT_ID}/login"),
        Login("platform operator", OPERATOR_EMAIL, PASSWORD, f"{base}/-/platform/login"),
    ]
    return outcome


def invite_link(db: Database, base_url: str) -> str:
    """The first consumer's invite link (to show newcomers the registration flow)."""
    with db.read() as conn:
        user = _user(conn, CONSUMERS[0][0])
    return f"{base_url.rstrip('/')}/{TENANT_ID}/register?invite={user.invite_code}"


__all__ = ["Login", "Outcome", "invite_link", "seed"]
