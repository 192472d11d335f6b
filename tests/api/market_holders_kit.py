"""Helpers of the market's holder-limit tests (``test_api_market_holder_limit*.py``): a
trading day, a collection with its market settings, verified and funded users, tokens granted
long ago, requests sent all at once, and what a refusal must leave alone."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import httpx
from mall_api import Api, TenantFixture, ok
from market_money_kit import db_of, fund, money, user
from sqlalchemy import func, select, union

from tokenmall.adapters.db.market.tables import market_holders, market_orders, market_trades
from tokenmall.adapters.db.nfg.tables import nfg_tokens
from tokenmall.domain.mall.people import Role
from tokenmall.domain.market.refusals import SENTENCES, Code
from tokenmall.services.mall.auth import Principal
from tokenmall.services.nfg import tokens

BEIJING = timezone(timedelta(hours=8))
PRICE = "99.00"


def today() -> date:
    return datetime.now(BEIJING).date()


def long_ago() -> datetime:
    """Noon, 40 days ago in Beijing: past every hold of these tests."""
    return datetime.combine(today() - timedelta(40), time(12), BEIJING).astimezone(UTC)


def principal(t: TenantFixture, user_id: str, role: Role = Role.CONSUMER) -> Principal:
    return Principal("session", "test", user_id, t.tenant_id, role)


def market(api: Api, t: TenantFixture, profile: str) -> None:
    """The tenant's profile, today a trading day (a weekend by 调休)."""
    ok(api.post(t.path("/market/settings"), t.admin_token, json={"profile": profile}))
    body = {"day": today().isoformat(), "workday": True}
    ok(api.post(t.path("/market/holidays"), t.admin_token, json=body))


def collection(api: Api, t: TenantFixture, limit: int | None, editions: int = 30) -> str:
    """A published collection (primary price 99.00) and its market's ``holder_limit``."""
    body = {
        "name": "2020 Reserve", "description": "A numbered bottle", "edition_size": editions,
        "price": PRICE, "price_asset": "money", "per_user_limit": editions,
    }  # fmt: skip
    made = ok(api.post(t.path("/nfg/collections"), t.admin_token, json=body), 201)
    cid = str(made["collection_id"])
    ok(api.post(t.path(f"/nfg/collections/{cid}/publish"), t.admin_token))
    if limit is not None:
        path = t.path(f"/market/collections/{cid}/settings")
        assert ok(api.post(path, t.admin_token, json={"holder_limit": limit}))["holder_limit"]
    return cid


def people(api: Api, server: Any, t: TenantFixture, n: int, fen: int = 0) -> list[tuple[str, str]]:
    """``n`` consumers, real-name verified, each with ``fen`` of market cash: (id, token)."""
    made = [user(api, t) for _ in range(n)]
    for user_id, _ in made:
        ok(api.patch(t.path(f"/users/{user_id}"), t.admin_token, json={"kyc_status": "verified"}))
        if fen:
            fund(server, t, user_id, fen)
    return made


def granted(server: Any, t: TenantFixture, cid: str, owner: str, count: int = 1) -> list[int]:
    """Serials granted to ``owner`` long ago (through the registry's grant)."""
    with db_of(server).unit() as unit:
        made = tokens.grant(
            unit, principal(t, t.admin_id, Role.ADMIN), t.tenant_id, cid, user_id=owner,
            email=None, count=count, config=server.app.state.log_config, now=long_ago(),
        )  # fmt: skip
    return [tok.serial for tok in made]


def refused_holder_limit(answer: httpx.Response) -> None:
    assert answer.status_code == 409, answer.text
    error = answer.json()["error"]
    assert error["code"] == "holder_limit", error
    zh, en = SENTENCES[Code.HOLDER_LIMIT]
    assert zh in error["message"], error
    assert en in error["message"], error


def holders(server: Any, t: TenantFixture, cid: str) -> set[str]:
    """Everyone who ever held a token of ``cid`` (recorded by the market, or owning one)."""
    h, k = market_holders.c, nfg_tokens.c
    with db_of(server).read() as conn:
        found = conn.execute(
            union(
                select(h.user_id).where(h.tenant_id == t.tenant_id, h.collection_id == cid),
                select(k.owner_id).where(k.tenant_id == t.tenant_id, k.collection_id == cid),
            )
        ).scalars()
        return set(found)


def state(server: Any, t: TenantFixture, *users: str) -> Any:
    """The tenant's tokens, orders, trades, holders' rows and log size, and ``users``' cash."""
    with db_of(server).read() as conn:
        rows = [
            [
                tuple(r)
                for r in conn.execute(
                    select(*cols).where(table.c.tenant_id == t.tenant_id).order_by(*cols)
                )
            ]
            for table, cols in (
                (nfg_tokens, (nfg_tokens.c.collection_id, nfg_tokens.c.serial,
                              nfg_tokens.c.owner_id, nfg_tokens.c.state)),
                (market_orders, (market_orders.c.order_id, market_orders.c.status)),
                (market_trades, (market_trades.c.trade_id, market_trades.c.buyer_id)),
                (market_holders, (market_holders.c.collection_id, market_holders.c.user_id)),
            )
        ]  # fmt: skip
    with db_of(server).reading() as unit:
        size = unit.log.leaf_count(t.tenant_id)
    return rows, size, money(server, t, *users)


def key() -> str:
    return uuid.uuid4().hex


def owner_of(server: Any, t: TenantFixture, cid: str, serial: int) -> str:
    k = nfg_tokens.c
    with db_of(server).read() as conn:
        return str(
            conn.execute(
                select(k.owner_id).where(
                    k.tenant_id == t.tenant_id, k.collection_id == cid, k.serial == serial
                )
            ).scalar_one()
        )


def count_holders(server: Any, t: TenantFixture, cid: str) -> int:
    h = market_holders.c
    with db_of(server).read() as conn:
        return int(
            conn.execute(
                select(func.count()).where(h.tenant_id == t.tenant_id, h.collection_id == cid)
            ).scalar_one()
        )
