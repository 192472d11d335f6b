"""The market's holder limit on primary sales, over HTTP on SQLite and PostgreSQL: under
``cn-licensed`` a drop's reservation and a grant to a user new to the collection are refused
``holder_limit`` (409, both sentences) once those who ever held plus the buyers of open
reservations fill it, nothing changed and the places left for sale; holders and buyers with an
open reservation still buy; ``open`` has no limit; newcomers racing for the last place: one
gets it."""

from __future__ import annotations

from typing import Any

import httpx
from mall_api import Api, TenantFixture, ok
from market_holders_kit import refused_holder_limit as _refused
from orders_helpers import audit_clean, economy, sandbox_pay
from sqlalchemy import func, select
from test_api_nfg_drop import _all_at_once, buyer, drop, make_collection, reserve

from tokenmall.adapters.db.nfg.tables import nfg_drop_buyers, nfg_reservations, nfg_tokens


def _market(api: Api, t: TenantFixture, col: str, profile: str, limit: int) -> None:
    ok(api.post(t.path("/market/settings"), t.admin_token, json={"profile": profile}))
    path = t.path(f"/market/collections/{col}/settings")
    assert ok(api.post(path, t.admin_token, json={"holder_limit": limit}))["holder_limit"] == limit


def _state(api: Api, server: Any, t: TenantFixture, col: str) -> Any:
    """The drop's figures, its rows (reservations, buyers' rows, tokens) and the ledger."""
    r, b, k = nfg_reservations.c, nfg_drop_buyers.c, nfg_tokens.c
    with server.app.state.database.read() as conn:
        counts = [
            conn.execute(
                select(func.count()).where(c.tenant_id == t.tenant_id, c.collection_id == col)
            ).scalar_one()
            for c in (r, b, k)
        ]
        buyers = conn.execute(
            select(b.user_id, b.reservations).where(b.tenant_id == t.tenant_id).order_by(b.user_id)
        ).all()
    return drop(api, t, col), counts, [tuple(x) for x in buyers], economy(server, t)


def _grant(api: Api, t: TenantFixture, col: str, user: str) -> httpx.Response:
    return api.post(
        t.path(f"/nfg/collections/{col}/mint"), t.admin_token, json={"user_id": user, "count": 1}
    )


def test_cn_licensed_refuses_a_newcomer_beyond_the_holder_limit(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    col = make_collection(server, t, edition=10, limit=3)
    _market(api, t, col, "cn-licensed", 3)
    buyers = [buyer(api, t) for _ in range(5)]
    made = [ok(reserve(api, t, col, token), 201) for token, _ in buyers[:3]]
    assert sandbox_pay(api, made[0]["payment_url"]).status_code == 200  # one holds, two reserve
    before = _state(api, server, t, col)
    assert before[0]["available"] == 7
    _refused(reserve(api, t, col, buyers[3][0]))
    _refused(_grant(api, t, col, buyers[3][1]))
    assert _state(api, server, t, col) == before  # nothing changed; the places stay for sale
    # the holder and a buyer with an open reservation are not newcomers
    ok(reserve(api, t, col, buyers[0][0]), 201)
    ok(reserve(api, t, col, buyers[1][0]), 201)
    assert ok(_grant(api, t, col, buyers[2][1]), 201)["tokens"]
    _refused(reserve(api, t, col, buyers[4][0]))
    # a higher limit admits the newcomer
    _market(api, t, col, "cn-licensed", 4)
    ok(reserve(api, t, col, buyers[3][0]), 201)
    _refused(_grant(api, t, col, buyers[4][1]))
    audit_clean(server, t)


def test_a_burned_token_still_counts_its_owner_as_a_holder(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    col = make_collection(server, t, edition=10, limit=3)
    _market(api, t, col, "cn-licensed", 1)
    (first_token, first), (second_token, _) = buyer(api, t), buyer(api, t)
    serial = ok(_grant(api, t, col, first), 201)["tokens"][0]["serial"]
    burned = ok(api.post(t.path(f"/nfg/tokens/{col}/{serial}/burn"), t.admin_token, json={}))
    assert burned["state"] == "burned"
    _refused(reserve(api, t, col, second_token))
    ok(reserve(api, t, col, first_token), 201)


def test_open_profile_has_no_holder_limit_on_primary_sales(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    col = make_collection(server, t, edition=10, limit=1)
    _market(api, t, col, "open", 2)
    for token, _ in [buyer(api, t) for _ in range(4)]:
        ok(reserve(api, t, col, token), 201)
    ok(_grant(api, t, col, buyer(api, t)[1]), 201)
    assert drop(api, t, col)["available"] == 5


def test_newcomers_racing_for_the_last_holder_place_one_gets_it(
    api: Api, server: Any, tenant: TenantFixture, server_base: str
) -> None:
    t = tenant
    for racers in (2, 6):
        col = make_collection(server, t, edition=20, limit=1)
        _market(api, t, col, "cn-licensed", 3)
        for token, _ in [buyer(api, t) for _ in range(2)]:
            ok(reserve(api, t, col, token), 201)
        tokens = [token for token, _ in (buyer(api, t) for _ in range(racers))]
        answers = _all_at_once(
            server_base, [lambda c, tok=tok, col=col: reserve(c, t, col, tok) for tok in tokens]
        )
        codes = sorted(a.status_code for a in answers)
        assert codes == [201] + [409] * (racers - 1), [a.text for a in answers]
        for answer in answers:
            if answer.status_code == 409:
                _refused(answer)
        assert drop(api, t, col)["available"] == 17
    audit_clean(server, t)
