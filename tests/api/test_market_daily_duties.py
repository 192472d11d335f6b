"""The market's daily duties as the scheduler runs them (``tokenmall scheduler --once``, a
subprocess, on SQLite and PostgreSQL): a listing and a bid past their last day expire (the
bid's cash returns, the listing frees its token) and the royalties that trades of days before
accrued are paid into the issuer's cash, once: a second round changes nothing."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from mall_api import Api, TenantFixture, ok
from market_money_kit import audit_clean, db_of, fund, money, rows, user
from test_api_market_money import FEES

from tokenmall.demo.nfg import add_collection, mint
from tokenmall.domain.mall.people import Role
from tokenmall.domain.nfg.records import Collection, CollectionStatus, PriceAsset
from tokenmall.domain.nfg.rights import Rights
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import utc_now
from tokenmall.services.market import orders, trading
from tokenmall.services.market.state import business_day


def _caller(t: TenantFixture, user_id: str) -> Principal:
    return Principal("session", "test", user_id, t.tenant_id, Role.CONSUMER)


def _statuses(api: Api, t: TenantFixture, token: str) -> dict[int, str]:
    found = ok(api.get(t.path("/market/orders/mine"), token))["orders"]
    return {o["order_id"]: o["status"] for o in found}


def _collection(server: Any, t: TenantFixture, owner: str, minted: datetime) -> str:
    """A published collection of ``t`` (royalty 5%), two tokens minted to ``owner`` then."""
    cid = "col_" + uuid.uuid4().hex[:20]
    config = server.app.state.log_config
    with db_of(server).unit() as unit:
        add_collection(
            unit, config,
            Collection(
                tenant_id=t.tenant_id, collection_id=cid, name="黑卡", description="",
                issuer_merchant_id=t.merchant_id, edition_size=10, price=10_000,
                price_asset=PriceAsset.MONEY, per_user_limit=5, rights=Rights(),
                status=CollectionStatus.PUBLISHED, created_at=minted,
            ),
            minted,
        )  # fmt: skip
        for _ in range(2):
            mint(unit, config, t.tenant_id, cid, owner, minted)
    return cid


@pytest.fixture
def dev_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scheduler with the served app's settings (development mode, its secret key)."""
    monkeypatch.setenv("TOKENMALL_ENV", "development")
    monkeypatch.delenv("TOKENMALL_SECRET_KEY", raising=False)


@pytest.mark.usefixtures("dev_scheduler")
def test_the_scheduler_expires_due_orders_and_pays_royalties_once(
    api: Api, server: Any, tenant: TenantFixture, cli: Any
) -> None:
    t = tenant
    seller, issuer = t.consumer_id, t.merchant_id
    past = utc_now() - timedelta(days=3)
    cid = _collection(server, t, seller, past - timedelta(days=1))
    ok(api.post(t.path(f"/market/collections/{cid}/settings"), t.admin_token, json=FEES))
    buyer, buyer_token = user(api, t)
    fund(server, t, buyer, 50_000)
    config = server.app.state.log_config
    with db_of(server).unit() as unit:  # three days ago: a listing and a bid good for a day
        listing = orders.list_token(
            unit, _caller(t, seller), t.tenant_id, cid, 1, 12_000,
            now=past, config=config, valid_days=1,
        ).order_id  # fmt: skip
        bid = trading.bid(
            unit, _caller(t, buyer), t.tenant_id, cid, 5_000, now=past, config=config, valid_days=1
        ).order_id
        sold = orders.list_token(
            unit, _caller(t, seller), t.tenant_id, cid, 2, 10_000, now=past, config=config
        ).order_id
        assert sold is not None
        trading.take(unit, _caller(t, buyer), t.tenant_id, sold, now=past, config=config)
    before = money(server, t, buyer, issuer)
    assert (before[buyer], before["market_escrow"], before["royalties"]) == (35_000, 5_000, 500)

    ran = cli("scheduler", "--once", "--at", "00:00", "--database", server.settings.database_url)
    assert ran.returncode == 0, ran.stderr
    day = (business_day(utc_now()) - timedelta(days=1)).isoformat()
    assert f"tenant {t.tenant_id} {day}: market: 2 order(s) expired, 1 royalty payout(s)" in (
        ran.stdout
    ), (ran.stdout, ran.stderr)
    after = money(server, t, buyer, issuer)
    assert (after[buyer], after["market_escrow"]) == (40_000, 0)
    assert (after[issuer], after["royalties"]) == (500, 0)
    mine = _statuses(api, t, t.consumer_token)
    assert (mine[listing], mine[sold]) == ("expired", "filled")
    assert _statuses(api, t, buyer_token)[bid] == "expired"
    report = ok(api.get(t.path("/market/royalties"), t.admin_token))
    assert report["issuers"] == [
        {"issuer_id": issuer, "earned": "5.00", "paid": "5.00", "accrued": "0.00"}
    ]
    assert [p["business_day"] for p in report["payouts"]] == [day]

    snapshot = (money(server, t, buyer, issuer), rows(server, t))
    again = cli("scheduler", "--once", "--at", "00:00", "--database", server.settings.database_url)
    assert again.returncode == 0, again.stderr
    assert f"tenant {t.tenant_id} {day}: market" not in again.stdout
    assert (money(server, t, buyer, issuer), rows(server, t)) == snapshot
    assert ok(api.get(t.path("/market/royalties"), t.admin_token))["total"] == 1
    audit_clean(server, t)
