"""Helpers of the market's HTTP spec tests (``test_spec_market_http.py``): consumers, market
cash paid in through the sandbox gateway's page, real-name checks reviewed by the admin, the
tenant's trading calendar set through the admin's API, and a snapshot of everything a refusal
must leave alone.

Time travel is the existing tests' own: tokens minted and orders placed at a ``now`` in the
past through the same use cases the API calls (the server reads the real clock). Trading days
are counted here again from market.md (weekends closed, the tenant's holidays closed, its
调休 workdays open), not with the project's calendar code.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from mall_api import Api, TenantFixture, login, ok
from market_money_kit import db_of, money, rows

from tokenmall.domain.mall.people import Role
from tokenmall.services.mall.auth import Principal
from tokenmall.services.nfg import tokens

BEIJING = timezone(timedelta(hours=8))

# market.md's sentences, one pair a refusal code the tests meet
SENTENCES = {
    "kyc_required": ("交易双方均须完成实名认证", "Both sides must have completed real-name"),
    "hold_period": ("尚在持有期内", "The holding period has not ended yet"),
    "market_closed": ("今日非交易日", "Today is not a trading day"),
    "price_band": ("价格超出当日涨跌幅限制", "The price is outside today's price band"),
    "holder_limit": (
        "该藏品的持有人数已达上限",
        "This collection has reached its limit of holders",
    ),
    "expired": ("该订单已过期", "This order has expired"),
}


def today() -> date:
    """The market's business day now (Beijing)."""
    return datetime.now(BEIJING).date()


def at_noon(day: date) -> datetime:
    """Noon of ``day`` in Beijing, as an aware UTC time."""
    return datetime.combine(day, time(12), BEIJING).astimezone(UTC)


def principal(t: TenantFixture, user_id: str, role: Role = Role.CONSUMER) -> Principal:
    return Principal("session", "spec", user_id, t.tenant_id, role)


# --- people and cash ---


def consumer(api: Api, t: TenantFixture, invite_code: str | None = None) -> tuple[str, str]:
    """A consumer who signed up on the tenant's register route: (user id, token)."""
    email = f"{uuid.uuid4().hex[:12]}@shop.test"
    body: dict[str, Any] = {"email": email, "password": "pass-word-1"}
    if invite_code is not None:
        body["invite_code"] = invite_code
    made = ok(api.post(t.path("/register"), json=body), 201)
    return made["user_id"], login(api, t.tenant_id, email, "pass-word-1")


def deposit(api: Api, t: TenantFixture, token: str, amount: str) -> None:
    """Market cash in as a user pays it: a deposit, approved on the sandbox's payment page."""
    dep = ok(api.post(t.path("/market/deposits"), token, json={"amount": amount}))
    page = dep["redirect_url"].split("://", 1)[1].split("/", 1)[1]
    paid = api.http.post(f"/{page}", data={"outcome": "approve"})
    assert paid.status_code == 200, paid.text


def verified(api: Api, t: TenantFixture, *user_ids: str) -> None:
    """The admin marks the users real-name verified (the member's status)."""
    for user_id in user_ids:
        body = {"kyc_status": "verified"}
        ok(api.patch(t.path(f"/users/{user_id}"), t.admin_token, json=body))


def id_number(rng: random.Random) -> str:
    """A resident identity number with a correct GB 11643 check character."""
    body = f"110105{rng.randint(1960, 2000)}0{rng.randint(1, 9)}1{rng.randint(0, 8)}"
    body += f"{rng.randint(0, 999):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(body, weights, strict=True))
    return body + "10X98765432"[total % 11]


# --- collections and tokens ---


def collection(api: Api, t: TenantFixture, price: str = "99.00", editions: int = 20) -> str:
    """A published collection (primary price ``price``), made over HTTP by the admin."""
    body = {
        "name": "2020 Reserve", "description": "A numbered bottle", "edition_size": editions,
        "price": price, "price_asset": "money", "per_user_limit": editions,
    }  # fmt: skip
    cid = str(
        ok(api.post(t.path("/nfg/collections"), t.admin_token, json=body), 201)["collection_id"]
    )
    ok(api.post(t.path(f"/nfg/collections/{cid}/publish"), t.admin_token))
    return cid


def minted(server: Any, t: TenantFixture, cid: str, owner: str, when: datetime, count: int = 1
           ) -> list[int]:  # fmt: skip
    """Serials granted (minted) to ``owner`` at ``when`` through the registry's grant."""
    config = server.app.state.log_config
    with db_of(server).unit() as unit:
        made = tokens.grant(
            unit, principal(t, t.admin_id, Role.ADMIN), t.tenant_id, cid, user_id=owner,
            email=None, count=count, config=config, now=when,
        )  # fmt: skip
    return [tok.serial for tok in made]


def set_profile(api: Api, t: TenantFixture, profile: str, **extra: Any) -> None:
    ok(api.post(t.path("/market/settings"), t.admin_token, json={"profile": profile, **extra}))


def set_collection(api: Api, t: TenantFixture, cid: str, **values: Any) -> dict[str, Any]:
    path = t.path(f"/market/collections/{cid}/settings")
    found: dict[str, Any] = ok(api.post(path, t.admin_token, json=values))
    return found


# --- the trading calendar ---


class Calendar:
    """The tenant's calendar as set through ``POST /market/holidays``, and market.md's count
    of trading days over it: weekends closed unless a 调休 workday, holidays closed."""

    def __init__(self, api: Api, t: TenantFixture) -> None:
        self.api, self.t = api, t
        self.closed: set[date] = set()
        self.opened: set[date] = set()

    def close(self, day: date) -> None:
        ok(self.api.post(self.t.path("/market/holidays"), self.t.admin_token,
                         json={"day": day.isoformat(), "workday": False}))  # fmt: skip
        self.closed.add(day)
        self.opened.discard(day)

    def open(self, day: date) -> None:
        ok(self.api.post(self.t.path("/market/holidays"), self.t.admin_token,
                         json={"day": day.isoformat(), "workday": True}))  # fmt: skip
        self.opened.add(day)
        self.closed.discard(day)

    def trading(self, day: date) -> bool:
        if day in self.closed:
            return False
        return day.weekday() < 5 or day in self.opened

    def back(self, n: int, start: date | None = None) -> date:
        """The trading day ``n`` trading days before ``start`` (today), which trades."""
        day = start or today()
        while n > 0:
            day -= timedelta(days=1)
            if self.trading(day):
                n -= 1
        return day


# --- what a refusal must leave alone ---


def snapshot(api: Api, server: Any, t: TenantFixture, *users: tuple[str, str]) -> Any:
    """The ledger's cash of ``users`` and the market's pools, every token, order and trade
    of the tenant, and what each user's own routes show (orders, trades, wallet)."""
    ids = [u for u, _ in users]
    seen = []
    for _, token in users:
        mine = ok(api.get(t.path("/market/orders/mine"), token))["orders"]
        trades = ok(api.get(t.path("/market/trades/mine"), token))["trades"]
        wallet = ok(api.get(t.path("/wallet"), token))
        seen.append((mine, trades, wallet))
    return money(server, t, *ids), rows(server, t), seen


def refused(answer: Any, status: int, code: str, field: str | None = "-") -> dict[str, Any]:
    """A 4xx with market.md's ``code`` and its sentence in Chinese and in English."""
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    assert error["code"] == code, error
    zh, en = SENTENCES[code]
    assert zh in error["message"], error
    assert en in error["message"], error
    assert "Traceback" not in answer.text
    if field != "-":
        assert error["field"] == field, error
    return error
