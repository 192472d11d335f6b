"""Economy endpoints over real HTTP: wallet, dividends, sell and convert with their previews,
merchant redemption, leaderboard and price history; bad amounts change nothing."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from mall_api import Api, TenantFixture, ok
from sqlalchemy import select, update
from wallet_helpers import audit_clean, buy, register, settle, snapshot, store_of

from tampering import behind_the_triggers
from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.tables import economy_state, holders, journals
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.money import format_money, parse_money, parse_points
from tokenmall.services.ledger.execute import execute


@pytest.fixture
def store(server: Any) -> Store:
    return store_of(server)


def holder_row(store: Store, tenant_id: str, name: str) -> dict[str, Any]:
    with store.read() as conn:
        row = conn.execute(
            select(holders).where(holders.c.tenant_id == tenant_id, holders.c.name == name)
        ).first()
    assert row is not None
    return dict(row._mapping)


def state_row(store: Store, tenant_id: str) -> dict[str, Any]:
    with store.read() as conn:
        row = conn.execute(
            select(economy_state).where(economy_state.c.tenant_id == tenant_id)
        ).first()
    assert row is not None
    return dict(row._mapping)


def test_wallet_after_purchases_and_settled_days(
    api: Api, tenant: TenantFixture, store: Store
) -> None:
    t, me = tenant.tenant_id, tenant.consumer_id
    empty = ok(api.get(tenant.path("/wallet"), tenant.consumer_token))
    assert empty["points"] == "0.00000000"
    assert empty["quota_left"] == "0.00"
    assert empty["backed_by"]["statement"]
    buy(store, t, me, 10_000)
    buy(store, t, me, 20_000)
    settle(store, t, date(2026, 11, 1))
    buy(store, t, me, 5_000)
    settle(store, t, date(2026, 11, 2))

    wallet = ok(api.get(tenant.path("/wallet"), tenant.consumer_token))
    h = holder_row(store, t, me)
    s = state_row(store, t)
    assert parse_points(wallet["points"]) == h["points"]
    assert parse_money(wallet["cash"], allow_zero=True) == h["cash"]
    assert parse_money(wallet["quota_total"]) == h["quota"] == 2 * 35_000  # quota_multiple 2
    assert parse_money(wallet["quota_used"]) == h["quota_used"] > 0
    assert parse_money(wallet["quota_left"]) == h["quota"] - h["quota_used"]
    assert parse_money(wallet["dividends_received"]) == h["dividends"] > 0
    assert wallet["exited"] is False
    assert wallet["debt"] == "0.00"
    assert wallet["spend"] == "350.00"
    assert wallet["shares"] == 1
    assert wallet["price"].count(".") == 1
    assert len(wallet["price_display"].split(".")[1]) == 4
    num, den = (int(x) for x in wallet["price_fraction"].split("/"))
    assert num * s["circulating"] == den * s["pool"]  # price = pool / circulating, exactly
    # the value at a buyback after the 10% fee: less than points × price
    assert parse_money(wallet["points_value"]) <= h["points"] * num // den
    backed = wallet["backed_by"]
    assert parse_money(backed["pool"]) == s["pool"]
    assert parse_money(backed["dividend_pool"], allow_zero=True) == s["dividend_pool"]
    assert parse_money(backed["quota_outstanding"]) == h["quota"] - h["quota_used"]
    assert backed["days_to_pay_quota"] is not None

    # day by day, newest first; the days add up to what was received
    days = ok(api.get(tenant.path("/wallet/dividends"), tenant.consumer_token))["items"]
    assert [d["business_date"] for d in days] == ["2026-11-02", "2026-11-01"]
    assert sum(parse_money(d["amount"], allow_zero=True) for d in days) == h["dividends"]
    one = ok(api.get(tenant.path("/wallet/dividends?days=1"), tenant.consumer_token))["items"]
    assert [d["business_date"] for d in one] == ["2026-11-02"]

    # admins read anyone's wallet; consumers only their own
    seen = ok(api.get(tenant.path(f"/users/{me}/wallet"), tenant.admin_token))
    assert seen["points"] == wallet["points"]
    path = f"/users/{tenant.admin_id}/wallet"
    assert api.get(tenant.path(path), tenant.consumer_token).status_code == 403
    assert api.get(tenant.path("/users/usr_nobody/wallet"), tenant.admin_token).status_code == 404
    assert api.get(tenant.path("/wallet")).status_code == 401
    audit_clean(store, t)


def test_sell_and_convert_do_exactly_what_their_previews_said(
    api: Api, tenant: TenantFixture, store: Store
) -> None:
    t, me, token = tenant.tenant_id, tenant.consumer_id, tenant.consumer_token
    buy(store, t, me, 10_000)
    before = snapshot(store, t)
    preview = ok(api.get(tenant.path("/wallet/sell-preview?points=1.5"), token))
    assert snapshot(store, t) == before  # a preview changes nothing
    assert preview["receive_as"] == "cash"
    assert preview["fee_rate"] == "0.1"
    assert parse_money(preview["fee"]) > 0
    assert parse_money(preview["value_at_price"]) == parse_money(preview["receive"]) + parse_money(
        preview["fee"]
    )
    h0 = holder_row(store, t, me)
    sold = api.post(tenant.path("/wallet/sell"), token, json={"points": "1.5"}, key="sell-1")
    body = ok(sold)
    assert {k: v for k, v in body.items() if k != "journal_id"} == {
        k: v for k, v in preview.items() if k != "journal_id"
    }
    assert body["journal_id"] > 0
    h1 = holder_row(store, t, me)
    assert h0["points"] - h1["points"] == 150_000_000
    assert h1["cash"] - h0["cash"] == parse_money(preview["receive"])
    # the same key replays the first answer and changes nothing
    after = snapshot(store, t)
    again = api.post(tenant.path("/wallet/sell"), token, json={"points": "1.5"}, key="sell-1")
    assert again.json() == body
    assert again.headers["Idempotency-Replayed"] == "true"
    assert snapshot(store, t) == after
    assert (
        api.post(tenant.path("/wallet/sell"), token, json={"points": "2"}, key="sell-1").status_code
        == 409
    )

    conv_preview = ok(api.get(tenant.path("/wallet/convert-preview?points=2.25"), token))
    assert conv_preview["receive_as"] == "stable"
    assert conv_preview["fee"] == "0.00"
    converted = ok(api.post(tenant.path("/wallet/convert"), token, json={"points": "2.25"}))
    assert {k: v for k, v in converted.items() if k != "journal_id"} == {
        k: v for k, v in conv_preview.items() if k != "journal_id"
    }
    h2 = holder_row(store, t, me)
    assert h1["points"] - h2["points"] == 225_000_000
    assert h2["stable"] - h1["stable"] == parse_money(conv_preview["receive"])
    wallet = ok(api.get(tenant.path("/wallet"), token))
    assert wallet["stable"] == format_money(h2["stable"])
    audit_clean(store, t)


BAD_POINTS: list[Any] = [
    "-1",
    "0",
    "0.00000000",
    "1e3",
    "abc",
    "",
    " ",
    "1.123456789",  # more than 8 places
    "１",  # not ASCII digits
    "99999999999999999999999",  # huge
    "1000",  # more than held
    1.5,  # a JSON number
    1,
    True,
    None,
    ["1"],
]


def test_bad_amounts_are_refused_and_change_nothing(
    api: Api, tenant: TenantFixture, store: Store
) -> None:
    t, me, token = tenant.tenant_id, tenant.consumer_id, tenant.consumer_token
    buy(store, t, me, 10_000)
    before = snapshot(store, t)
    for kind in ("sell", "convert"):
        for bad in BAD_POINTS:
            answer = api.post(tenant.path(f"/wallet/{kind}"), token, json={"points": bad})
            assert 400 <= answer.status_code < 500, (kind, bad, answer.text)
            assert answer.json()["error"]["message"], (kind, bad)
            if isinstance(bad, str):
                preview = api.get(
                    tenant.path(f"/wallet/{kind}-preview"), token, params={"points": bad}
                )
                assert 400 <= preview.status_code < 500, (kind, bad, preview.text)
        for body in ({}, {"points": "1", "extra": "x"}, {"amount": "1"}, ["points"], "1"):
            answer = api.post(tenant.path(f"/wallet/{kind}"), token, json=body)
            assert answer.status_code == 422, (kind, body, answer.text)
        raw = api.call(
            "POST",
            tenant.path(f"/wallet/{kind}"),
            token,
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        )
        assert raw.status_code == 400
        missing_key = api.post(
            tenant.path(f"/wallet/{kind}"), token, json={"points": "1"}, key=None
        )
        assert missing_key.status_code == 400
    no_query = api.get(tenant.path("/wallet/sell-preview"), token)
    assert no_query.status_code == 422
    twice = api.get(tenant.path("/wallet/sell-preview?points=1&points=2"), token)
    assert twice.status_code == 422
    assert snapshot(store, t) == before
    audit_clean(store, t)


def test_a_merchant_redeems_stable_points(api: Api, tenant: TenantFixture, store: Store) -> None:
    t, me = tenant.tenant_id, tenant.consumer_id
    buy(store, t, me, 10_000)
    ok(api.post(tenant.path("/wallet/convert"), tenant.consumer_token, json={"points": "10"}))
    execute(
        store,
        c.PayStable(
            tenant_id=t,
            idempotency_key="pay-1",
            user=me,
            merchant=tenant.merchant_id,
            amount_fen=500,
        ),
    )
    path = tenant.path(f"/merchants/{tenant.merchant_id}/redeem")
    mine = ok(
        api.get(tenant.path(f"/merchants/{tenant.merchant_id}/wallet"), tenant.merchant_token)
    )
    assert mine["stable"] == "5.00"
    assert mine["points"] == "0.00000000"
    before = snapshot(store, t)
    assert api.post(path, tenant.consumer_token, json={"amount": "1.00"}).status_code == 403
    for bad in ("-1.00", "0", "1.001", "abc", 1, "6.00", "99999999999999.00"):
        answer = api.post(path, tenant.merchant_token, json={"amount": bad})
        assert 400 <= answer.status_code < 500, (bad, answer.text)
    assert api.post(path, tenant.merchant_token, json={"amount": "1", "x": 1}).status_code == 422
    nobody = tenant.path("/merchants/mer_nobody/redeem")
    assert api.post(nobody, tenant.admin_token, json={"amount": "1.00"}).status_code == 404
    assert snapshot(store, t) == before
    redeemed = ok(api.post(path, tenant.merchant_token, json={"amount": "2.00"}))
    assert redeemed["amount"] == "2.00"
    assert parse_points(redeemed["points"]) > 0
    mine = ok(
        api.get(tenant.path(f"/merchants/{tenant.merchant_id}/wallet"), tenant.merchant_token)
    )
    assert mine["stable"] == "3.00"
    assert mine["points"] == redeemed["points"]
    by_admin = ok(api.post(path, tenant.admin_token, json={"amount": "1.00"}))
    assert by_admin["merchant_id"] == tenant.merchant_id
    audit_clean(store, t)


def test_leaderboard_ranks_by_points_with_display_names(
    api: Api, tenant: TenantFixture, store: Store
) -> None:
    t = tenant.tenant_id
    amy, amy_token = register(api, tenant, "amy@shop.test", name="Amy")
    bob, _ = register(api, tenant, "bob@shop.test", name="Bob")
    buy(store, t, bob, 30_000)
    buy(store, t, amy, 10_000)
    board = ok(api.get(tenant.path("/leaderboard?limit=5"), amy_token))["items"]
    assert [(e["rank"], e["name"], e["you"]) for e in board] == [
        (1, "Bob", False),
        (2, "Amy", True),
    ]
    assert parse_points(board[0]["points"]) == holder_row(store, t, bob)["points"]
    text = str(board)
    assert "@" not in text
    assert bob not in text
    assert amy not in text
    assert len(ok(api.get(tenant.path("/leaderboard?limit=1"), amy_token))["items"]) == 1
    for bad in ("0", "101", "x"):
        assert api.get(tenant.path(f"/leaderboard?limit={bad}"), amy_token).status_code == 422


def test_price_history_has_daily_closes_and_the_current_price(
    api: Api, tenant: TenantFixture, store: Store
) -> None:
    t, me = tenant.tenant_id, tenant.consumer_id
    empty = ok(api.get(tenant.path("/economy/price-history"), tenant.consumer_token))
    assert empty["series"] == []
    assert empty["current"]["price"] == "1.00000000"
    buy(store, t, me, 10_000)
    buy(store, t, me, 10_000)
    history = ok(api.get(tenant.path("/economy/price-history?days=7"), tenant.consumer_token))
    assert history["days"] == 7
    assert len(history["series"]) == 1
    (today,) = history["series"]
    with store.read() as conn:
        last = conn.execute(
            select(journals.c.result)
            .where(journals.c.tenant_id == t, journals.c.code == "purchase")
            .order_by(journals.c.journal_id.desc())
        ).first()
    assert last is not None
    assert today["close"] == json.loads(last.result)["price"]
    wallet = ok(api.get(tenant.path("/wallet"), tenant.consumer_token))
    assert history["current"]["price"] == wallet["price"]
    for bad in ("0", "367", "x"):
        answer = api.get(tenant.path(f"/economy/price-history?days={bad}"), tenant.consumer_token)
        assert answer.status_code == 422


def test_price_history_closes_each_day_on_its_last_priced_journal(
    api: Api, tenant: TenantFixture, store: Store
) -> None:
    t, me = tenant.tenant_id, tenant.consumer_id
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    # three purchases, then their journals are dated 3 days ago, 1 day ago and today
    marks = []
    for fen in (10_000, 30_000, 50_000):
        buy(store, t, me, fen)
        with store.read() as conn:
            marks.append(
                int(
                    conn.execute(
                        select(journals.c.journal_id, journals.c.result)
                        .where(journals.c.tenant_id == t, journals.c.code == "purchase")
                        .order_by(journals.c.journal_id.desc())
                    ).first()[0]  # type: ignore[index]
                )
            )
    with store.transaction() as conn:  # journals are immutable: dated as their owner could
        for upto, days_ago in ((marks[0], 3), (marks[1], 1)):
            behind_the_triggers(
                store,
                conn,
                update(journals)
                .where(
                    journals.c.tenant_id == t,
                    journals.c.journal_id <= upto,
                    journals.c.created_at > today - timedelta(days=days_ago),
                )
                .values(created_at=today - timedelta(days=days_ago)),
            )
    with store.read() as conn:
        prices = {
            jid: json.loads(
                conn.execute(
                    select(journals.c.result).where(
                        journals.c.tenant_id == t, journals.c.journal_id == jid
                    )
                ).scalar_one()
            )["price"]
            for jid in marks
        }
    history = ok(api.get(tenant.path("/economy/price-history?days=5"), tenant.consumer_token))
    day = [(today - timedelta(days=n)).date().isoformat() for n in (3, 2, 1, 0)]
    assert history["series"] == [
        {"date": day[0], "close": prices[marks[0]]},
        {"date": day[1], "close": prices[marks[0]]},  # no trade that day: the close carries
        {"date": day[2], "close": prices[marks[1]]},
        {"date": day[3], "close": prices[marks[2]]},
    ]
