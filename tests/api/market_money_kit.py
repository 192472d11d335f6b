"""Helpers for the market's money tests: users, cash in, balances and conservation."""

from __future__ import annotations

import uuid
from typing import Any

from mall_api import Api, TenantFixture, login, ok
from sqlalchemy import select

from tokenmall.adapters.db.market.tables import market_orders, market_trades
from tokenmall.adapters.db.nfg.tables import nfg_tokens
from tokenmall.adapters.db.store import Store
from tokenmall.domain.ledger import commands as c
from tokenmall.services.ledger.audit import audit
from tokenmall.services.mall import journal
from tokenmall.services.mall.uow import Database


def db_of(server: Any) -> Database:
    found: Database = server.app.state.database
    return found


def store_of(server: Any) -> Store:
    return Store(db_of(server).engine)


def user(api: Api, t: TenantFixture, name: str | None = None) -> tuple[str, str]:
    """A new consumer of ``t``: (user id, token)."""
    email = f"{name or uuid.uuid4().hex[:12]}@shop.test"
    body = {"email": email, "password": "pass-word-1", "role": "consumer"}
    made = ok(api.post(t.path("/users"), t.admin_token, json=body), 201)  # no sign-up throttle
    return made["user_id"], login(api, t.tenant_id, email, "pass-word-1")


def fund(server: Any, t: TenantFixture, user_id: str, fen: int) -> None:
    """Market cash in, as the gateway's callback books it (``MarketDeposit``)."""
    with db_of(server).unit() as unit:
        journal.run(
            unit.conn,
            c.MarketDeposit(
                tenant_id=t.tenant_id,
                idempotency_key=f"test-deposit:{uuid.uuid4().hex}",
                user=user_id,
                ref=f"dep_{uuid.uuid4().hex[:20]}",
                amount_fen=fen,
            ),
        )


def money(server: Any, t: TenantFixture, *users: str) -> dict[str, int]:
    """Each user's cash and the market's aggregates, fen."""
    store = store_of(server)
    with store.read() as conn:
        state, _ = store.load_state(conn, t.tenant_id)
        holders = {h.name: h.cash for h in store.load_holders(conn, t.tenant_id, list(users))}
    out = {u: holders.get(u, 0) for u in users}
    for name in ("market_deposits", "market_escrow", "market_fees", "royalties"):
        out[name] = getattr(state, name)
    return out


def rows(server: Any, t: TenantFixture) -> tuple[list[Any], list[Any], list[Any]]:
    """Tokens (collection, serial, owner, state), orders (id, status), trades (id, price)."""
    with db_of(server).read() as conn:
        tokens = conn.execute(
            select(nfg_tokens.c.collection_id, nfg_tokens.c.serial, nfg_tokens.c.owner_id,
                   nfg_tokens.c.state)
            .where(nfg_tokens.c.tenant_id == t.tenant_id)
            .order_by(nfg_tokens.c.collection_id, nfg_tokens.c.serial)
        ).all()  # fmt: skip
        orders = conn.execute(
            select(market_orders.c.order_id, market_orders.c.status)
            .where(market_orders.c.tenant_id == t.tenant_id)
            .order_by(market_orders.c.order_id)
        ).all()
        trades = conn.execute(
            select(market_trades.c.trade_id, market_trades.c.price)
            .where(market_trades.c.tenant_id == t.tenant_id)
            .order_by(market_trades.c.trade_id)
        ).all()
    return [tuple(r) for r in tokens], [tuple(r) for r in orders], [tuple(r) for r in trades]


def audit_clean(server: Any, t: TenantFixture) -> None:
    (report,) = audit(store_of(server), t.tenant_id)
    assert report.findings == [], report.findings


def conserved(server: Any, t: TenantFixture, *users: str) -> None:
    """Every fen deposited is in someone's cash, a bid's escrow, the fees or the royalties."""
    m = money(server, t, *users)
    held = sum(m[u] for u in users) + m["market_escrow"] + m["market_fees"] + m["royalties"]
    assert held == m["market_deposits"], m
    assert all(v >= 0 for v in m.values()), m


def refused(answer: Any, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    assert error["code"] == code, error
    return error
