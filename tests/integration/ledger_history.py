"""A random history run twice: through the in-memory engine and through the database."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta
from functools import partial
from typing import Any

from tokenmall.adapters.db.store import Store
from tokenmall.domain.economy import Economy, Params
from tokenmall.domain.economy.state import Holder
from tokenmall.domain.errors import DomainError
from tokenmall.domain.ledger import commands as c
from tokenmall.services.ledger.execute import execute
from tokenmall.services.ledger.settlement import settle

POINT = 10**8
START = date(2026, 1, 1)
FIELDS = (
    "points",
    "cash",
    "stable",
    "quota",
    "quota_used",
    "spend",
    "dividends",
    "exited",
    "merchant",
    "referrer",
)


def random_history(
    store: Store, tenant: str, params: Params, seed: int, steps: int = 120
) -> Economy:
    """Run ``steps`` random commands and settlements on both sides; return the engine."""
    rng = random.Random(seed)
    economy = Economy(params)
    users = [f"u{i:02d}" for i in range(12)]
    merchants = ["m1", "m2"]
    # The engine settles holders in the order they joined, the database in name order: join
    # them in name order so a day's forced exits run in the same order on both sides.
    for name in sorted(users + merchants):
        economy.holder(name)
    day = 0
    for n in range(steps):
        key = f"{seed}-{n}"
        op = rng.choice(
            ["purchase"] * 6 + ["join", "sell", "convert", "pay", "redeem", "settle", "settle"]
        )
        user = rng.choice(users)
        command: c.Command
        memory: Callable[[], object]
        if op == "purchase":
            amount = rng.choice([100, 999, 10000, 25000, 123456])
            command = c.Purchase(
                tenant_id=tenant, idempotency_key=key, user=user, amount_fen=amount
            )
            memory = partial(economy.purchase, user, amount)
        elif op == "join":
            referrer = rng.choice(users)
            command = c.Join(tenant_id=tenant, idempotency_key=key, user=user, referrer=referrer)
            memory = partial(economy.join, user, referrer)
        elif op in ("sell", "convert"):
            held = economy.state.holders.get(user)
            units = rng.randint(1, max(1, held.points if held else POINT))
            if op == "sell":
                command = c.Sell(tenant_id=tenant, idempotency_key=key, user=user, units=units)
                memory = partial(economy.sell, user, units)
            else:
                command = c.Convert(tenant_id=tenant, idempotency_key=key, user=user, units=units)
                memory = partial(economy.convert, user, units)
        elif op == "pay":
            merchant = rng.choice(merchants)
            held = economy.state.holders.get(user)
            amount = rng.randint(1, max(1, held.stable if held else 100))
            command = c.PayStable(
                tenant_id=tenant,
                idempotency_key=key,
                user=user,
                merchant=merchant,
                amount_fen=amount,
            )
            memory = partial(economy.pay_stable, user, merchant, amount)
        elif op == "redeem":
            merchant = rng.choice(merchants)
            held = economy.state.holders.get(merchant)
            amount = rng.randint(1, max(1, held.stable if held else 100))
            command = c.RedeemStable(
                tenant_id=tenant, idempotency_key=key, merchant=merchant, amount_fen=amount
            )
            memory = partial(economy.redeem_stable, merchant, amount)
        else:
            day += 1
            when = START + timedelta(days=day)
            economy.settle_day(when.toordinal())
            settle(store, tenant, when)
            continue
        try:
            memory()
        except DomainError as exc:
            expected: type[DomainError] | None = type(exc)
        else:
            expected = None
        try:
            execute(store, command)
        except DomainError as exc:
            if expected is None or not isinstance(exc, expected):
                raise AssertionError((op, exc)) from exc
        else:
            assert expected is None, (op, expected)
    return economy


def stored_holders(store: Store, tenant: str) -> dict[str, dict[str, Any]]:
    from sqlalchemy import select

    from tokenmall.adapters.db.tables import holders

    with store.read() as conn:
        rows = conn.execute(select(holders).where(holders.c.tenant_id == tenant)).all()
    empty = {f: getattr(Holder(""), f) for f in FIELDS}
    out = {r.name: {f: getattr(r, f) for f in FIELDS} for r in rows}
    return {name: row for name, row in out.items() if row != empty}


def memory_holders(economy: Economy) -> dict[str, dict[str, Any]]:
    out = {name: {f: getattr(h, f) for f in FIELDS} for name, h in economy.state.holders.items()}
    empty = {f: getattr(Holder(""), f) for f in FIELDS}
    return {name: row for name, row in out.items() if row != empty}
