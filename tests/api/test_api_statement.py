"""A person's statement of movements (流水) over real HTTP on SQLite and PostgreSQL: every
journal that moved their points or cash, newest first, paged at whole journals, filtered,
exported as CSV; nobody reads another's but an admin; bad queries are 422 naming the field."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from mall_api import Api, TenantFixture, ok
from wallet_helpers import buy, store_of

from tokenmall.adapters.db.store import Store


@pytest.fixture
def store(server: Any) -> Store:
    return store_of(server)


def _all(api: Api, t: TenantFixture, token: str, **query: Any) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    before = None
    while True:
        params = {**query, **({"before": before} if before else {})}
        page = ok(api.get(t.path("/me/statement"), token, params=params))
        lines.extend(page["lines"])
        before = page["next_before"]
        if before is None:
            return lines


def test_the_statement_shows_each_movement_newest_first_paged_and_as_csv(
    api: Api, tenant: TenantFixture, store: Store
) -> None:
    t = tenant
    assert ok(api.get(t.path("/me/statement"), t.consumer_token)) == {
        "user_id": t.consumer_id,
        "lines": [],
        "next_before": None,
    }
    for _ in range(3):
        buy(store, t.tenant_id, t.consumer_id, 10_000)
    wallet = ok(api.get(t.path("/wallet"), t.consumer_token))
    sold = ok(api.post(t.path("/wallet/sell"), t.consumer_token, json={"points": "1"}))
    lines = _all(api, t, t.consumer_token, limit=50)
    codes = [(x["code"], x["holding"]) for x in lines]
    # newest first: the sale (points out, cash in), then the three purchases (points in)
    assert codes == [("buyback", "cash"), ("buyback", "points")] + [("purchase", "points")] * 3
    assert lines[0]["amount"] == sold["receive"]
    assert lines[0]["journal_id"] == sold["journal_id"]
    assert lines[1]["amount"] == "-1.00000000"
    total = sum(int(x["amount"].replace(".", "")) for x in lines if x["holding"] == "points")
    assert total == int(wallet["points"].replace(".", "")) - 100_000_000
    ids = [x["journal_id"] for x in lines]
    assert ids == sorted(ids, reverse=True)
    # pages of one line end at whole journals: the sale's two lines stay together
    paged = _all(api, t, t.consumer_token, limit=1)
    assert paged == lines
    first = ok(api.get(t.path("/me/statement"), t.consumer_token, params={"limit": 1}))
    assert len(first["lines"]) == 2
    assert first["next_before"] == lines[0]["journal_id"]
    only_cash = _all(api, t, t.consumer_token, holding="cash")
    assert only_cash == [lines[0]]
    answer = api.get(t.path("/me/statement.csv"), t.consumer_token)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.text.lstrip("\ufeff"))))
    assert rows[0] == ["journal_id", "time_utc", "business_date", "code", "holding", "amount"]
    assert [(int(r[0]), r[3], r[4], r[5]) for r in rows[1:]] == [
        (x["journal_id"], x["code"], x["holding"], x["amount"]) for x in lines
    ]


def test_only_ones_own_statement_an_admins_any_and_bad_queries_name_the_field(
    api: Api, tenant: TenantFixture, other_tenant: TenantFixture, store: Store
) -> None:
    t = tenant
    buy(store, t.tenant_id, t.consumer_id, 10_000)
    mine = ok(api.get(t.path("/me/statement"), t.consumer_token))
    assert len(mine["lines"]) == 1
    # the merchant has none of the consumer's movements; an admin reads the consumer's
    assert ok(api.get(t.path("/me/statement"), t.merchant_token))["lines"] == []
    path = t.path(f"/users/{t.consumer_id}/statement")
    assert ok(api.get(path, t.admin_token)) == mine
    assert api.get(path, t.merchant_token).status_code == 403
    assert api.get(t.path("/users/usr_nobody/statement"), t.admin_token).status_code == 404
    assert api.get(t.path("/me/statement"), other_tenant.consumer_token).status_code in (
        401,
        403,
        404,
    )
    assert api.get(t.path("/me/statement")).status_code == 401
    for query, field in (
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"before": 0}, "before"),
        ({"before": "x"}, "before"),
        ({"holding": "gold"}, "holding"),
    ):
        answer = api.get(t.path("/me/statement"), t.consumer_token, params=query)
        assert answer.status_code == 422, (query, answer.text)
        assert answer.json()["error"]["field"] == field, answer.text
