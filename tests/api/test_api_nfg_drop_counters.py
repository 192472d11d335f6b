"""The drop's split counters over HTTP on SQLite and PostgreSQL: more places than counter rows
sold to concurrent buyers exactly once each, serials in order without gaps or repeats, the
per-user limit held, expired places returned to sale by the next buyer, and a grant taking
its places from the same counters (nothing oversold, a refused grant changes nothing)."""

from __future__ import annotations

from typing import Any

import httpx
from mall_api import Api, TenantFixture, ok
from orders_helpers import audit_clean, sandbox_pay
from test_api_nfg_drop import (
    _all_at_once,
    _error,
    buyer,
    drop,
    expire_now,
    make_collection,
    reservation,
    reserve,
)

from tokenmall.adapters.db.nfg import counters

EDITION = counters.SHARDS + 6  # more places than counter rows: every row holds one or two


def test_concurrent_buyers_get_exactly_the_edition_in_serial_order(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    col = make_collection(server, tenant, edition=EDITION, limit=2)
    people = [buyer(api, tenant) for _ in range(EDITION // 2 + 12)]
    answers = _all_at_once(
        server.base_url,
        [
            lambda a, tok=tok, n=n: reserve(a, tenant, col, tok, 1 + n % 2)
            for n, (tok, _) in enumerate(people)
        ],
    )
    assert all(a.status_code < 500 for a in answers), [a.text for a in answers]
    assert {_error(a)["code"] for a in answers if a.status_code == 409} <= {"sold_out"}
    made = [a.json() for a in answers if a.status_code == 201]
    taken = sum(int(m["quantity"]) for m in made)
    assert taken <= EDITION
    assert drop(api, tenant, col)["available"] == EDITION - taken
    # Whatever a split left over goes to single places, until sold out.
    for tok, _ in people:
        if drop(api, tenant, col)["available"] == 0:
            break
        again = reserve(api, tenant, col, tok, 1)
        if again.status_code == 201:
            made.append(again.json())
    assert drop(api, tenant, col)["available"] == 0
    assert sum(int(m["quantity"]) for m in made) == EDITION
    late = reserve(api, tenant, col, buyer(api, tenant)[0])
    _sold_out(late)
    for m in made:
        assert sandbox_pay(api, m["payment_url"]).status_code == 200
    owners: dict[str, int] = {}
    serials: list[int] = []
    for m in made:
        done = reservation(api, tenant, m["reservation_id"], _token_of(people, m["user_id"]))
        assert done["status"] == "assigned"
        serials.extend(done["serials"])
        owners[m["user_id"]] = owners.get(m["user_id"], 0) + len(done["serials"])
    assert sorted(serials) == list(range(1, EDITION + 1))
    assert max(owners.values()) <= 2
    figures = drop(api, tenant, col)
    assert (figures["minted"], figures["available"]) == (EDITION, 0)
    audit_clean(server, tenant)


def _sold_out(answer: httpx.Response) -> None:
    assert answer.status_code == 409, answer.text
    assert _error(answer)["code"] == "sold_out"


def _token_of(people: list[tuple[str, str]], user_id: str) -> str:
    return next(tok for tok, uid in people if uid == user_id)


def test_expired_places_go_to_the_next_buyer(api: Api, server: Any, tenant: TenantFixture) -> None:
    col = make_collection(server, tenant, edition=3, limit=2)
    first, _ = buyer(api, tenant)
    held = ok(reserve(api, tenant, col, first, 2), 201)
    ok(reserve(api, tenant, col, buyer(api, tenant)[0], 1), 201)
    second, _ = buyer(api, tenant)
    refused = reserve(api, tenant, col, second, 2)
    _sold_out(refused)
    expire_now(server, tenant, held["reservation_id"])
    took = ok(reserve(api, tenant, col, second, 2), 201)
    assert took["quantity"] == 2
    assert reservation(api, tenant, held["reservation_id"], first)["status"] == "expired"
    assert drop(api, tenant, col)["available"] == 0
    # Refused for want of places (the expired ones no longer count against the limit).
    again = reserve(api, tenant, col, first, 1)
    _sold_out(again)


def test_a_grant_takes_its_places_from_the_drop(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    col = make_collection(server, tenant, edition=4, limit=2)
    token, user_id = buyer(api, tenant)
    ok(reserve(api, tenant, col, token, 2), 201)  # opens the drop's counters
    path = tenant.path(f"/nfg/collections/{col}/mint")
    ok(api.post(path, tenant.admin_token, json={"user_id": user_id, "count": 2}), 201)
    assert drop(api, tenant, col)["available"] == 0
    assert drop(api, tenant, col)["minted"] == 2
    refused = api.post(path, tenant.admin_token, json={"user_id": user_id, "count": 1})
    assert refused.status_code == 422
    assert "count" in str(refused.json()["error"])
    assert drop(api, tenant, col)["minted"] == 2
    sold = reserve(api, tenant, col, buyer(api, tenant)[0], 1)
    _sold_out(sold)
