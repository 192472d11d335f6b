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

The orders are ledger orders (money and rewards), not yet rows of the mall's order tables: those
belong to the orders service (issue 4), which the demo should drive once it lands.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Connection, select

from tokenmall.adapters.db.mall import people as people_repo
from tokenmall.adapters.db.mall import tenants as tenants_repo
from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.tables import journals
from tokenmall.domain.errors import DomainError
from tokenmall.domain.money import POINT_SCALE
from tokenmall.services import commands as c
from tokenmall.services import ledger
from tokenmall.services.mall import catalogue, operators, order_ledger, people, tenants
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.records import Sku, User
from tokenmall.services.mall.uow import Database, utc_now

TENANT_ID = "wine"
TENANT_NAME = "醇香酒业 · 演示"
PASSWORD = "demo-password"
OPERATOR_EMAIL = "operator@tokenmall.demo"
ADMIN_EMAIL = "admin@wine.demo"
HISTORY_DAYS = 14

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
        conn,
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
            conn,
            admin,
            TENANT_ID,
            email=email,
            password=PASSWORD,
            display_name=name,
            role="merchant",
            now=now,
        )
        merchant = catalogue.create_merchant(conn, admin, TENANT_ID, store, owner.user_id, now)
        for title, description, price, contribution, stock in products:
            product = catalogue.create_product(
                conn,
                admin,
                TENANT_ID,
                merchant_id=merchant.merchant_id,
                title=title,
                description=description,
                now=now,
            )
            catalogue.create_sku(
                conn,
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
            conn,
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


def _skus(conn: Connection) -> list[Sku]:
    admin = _member(_user(conn, ADMIN_EMAIL))
    found: list[Sku] = []
    for product in catalogue.list_products(conn, admin, TENANT_ID, None, None, 200):
        found.extend(catalogue.get_product(conn, admin, TENANT_ID, product.product_id)[1])
    return found


def _booked(conn: Connection, order_ref: str) -> bool:
    key = f"order:{order_ref}:purchase"
    row = conn.execute(
        select(journals.c.journal_id).where(
            journals.c.tenant_id == TENANT_ID, journals.c.idempotency_key == key
        )
    ).first()
    return row is not None


def _order(conn: Connection, buyer: User, sku: Sku, quantity: int, order_ref: str) -> None:
    """One paid order: stock taken, payment into escrow, rewards booked (grant_on = paid)."""
    now = utc_now()
    catalogue.reserve(conn, TENANT_ID, sku.sku_id, quantity, order_ref, now)
    amount = sku.price_fen * quantity
    contribution = (
        None if sku.pool_contribution_fen is None else sku.pool_contribution_fen * quantity
    )
    order_ledger.record_payment(
        conn, TENANT_ID, user=buyer.user_id, order_ref=order_ref, amount_fen=amount
    )
    order_ledger.book_rewards(
        conn,
        TENANT_ID,
        user=buyer.user_id,
        order_ref=order_ref,
        amount_fen=amount,
        contribution_fen=contribution,
        now=now,
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
) -> Outcome:
    """Set up (or finish setting up) the demo tenant; safe to run any number of times."""
    say = progress or (lambda _: None)
    with db.transaction() as conn:
        operators.ensure(conn, OPERATOR_EMAIL, PASSWORD, utc_now())
    created = False
    with db.transaction() as conn:
        if not tenants_repo.exists(conn, TENANT_ID):
            say("creating the tenant, its merchants, products and consumers")
            _create_tenant(conn)
            created = True
    with db.transaction() as conn:
        _bind_referrals(conn)
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
            order_ref = f"demo-{day.isoformat()}-{number:02d}"
            with db.transaction() as conn:
                if _booked(conn, order_ref):
                    continue
                _order(conn, buyer, sku, quantity, order_ref)
                outcome.orders_booked += 1
        with db.transaction() as conn:
            _market(conn, index, users)
        ledger.execute(store, c.SettleDay(tenant_id=TENANT_ID, business_date=day))
        outcome.days_settled.append(day.isoformat())
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
