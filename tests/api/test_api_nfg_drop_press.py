"""A drop's press authenticates its buyer inside its own transaction, on SQLite and PostgreSQL:
a bad credential is refused (401) with nothing changed, a session nearing its idle deadline is
slid forward by the press, and the sandbox page's approval answers the reservation as its
callback left it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from mall_api import Api, TenantFixture, ok
from orders_helpers import audit_clean, sandbox_pay
from sqlalchemy import func, select, update
from test_api_nfg_drop import buyer, drop, make_collection, reservation, reserve

from tokenmall.adapters.db.mall.tables import sessions
from tokenmall.adapters.db.nfg.tables import nfg_drop_buyers, nfg_reservations


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _rows(server: Any, t: TenantFixture, collection_id: str) -> tuple[int, int]:
    """(reservations, buyers' rows) of the collection as stored."""
    r, b = nfg_reservations.c, nfg_drop_buyers.c
    with server.app.state.database.read() as conn:
        made = conn.execute(
            select(func.count()).where(r.tenant_id == t.tenant_id, r.collection_id == collection_id)
        ).scalar_one()
        rows = conn.execute(
            select(func.count()).where(b.tenant_id == t.tenant_id, b.collection_id == collection_id)
        ).scalar_one()
    return int(made), int(rows)


def test_a_press_with_a_bad_credential_is_refused_and_changes_nothing(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    col = make_collection(server, tenant, edition=3)
    token, _ = buyer(api, tenant)
    kind, tenant_id, session_id, secret = token.split(".")
    path = tenant.path(f"/nfg/collections/{col}/reservations")
    before = (_rows(server, tenant, col), drop(api, tenant, col)["available"])
    for bad in (
        f"{kind}.{tenant_id}.{session_id}.{secret}x",  # a wrong secret
        f"{kind}.{tenant_id}.ses_nothing.{secret}",  # no such session
        "tms.too.short",
    ):
        answer = reserve(api, tenant, col, bad)
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "unauthenticated"
    malformed = api.post(path, json={"quantity": 1}, headers={"Authorization": "Basic abc"})
    assert malformed.status_code == 401
    anonymous = api.post(path, json={"quantity": 1})
    assert anonymous.status_code == 401
    ok(api.post(tenant.path("/me/logout-everywhere"), token))
    signed_out = reserve(api, tenant, col, token)
    assert signed_out.status_code == 401
    assert (_rows(server, tenant, col), drop(api, tenant, col)["available"]) == before


def test_a_press_slides_a_session_near_its_idle_deadline(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    col = make_collection(server, tenant, edition=3)
    token, _ = buyer(api, tenant)
    session_id = token.split(".")[2]
    s = sessions.c
    where = (s.tenant_id == tenant.tenant_id, s.session_id == session_id)
    soon = datetime.now(UTC) + timedelta(minutes=5)  # well past a tenth of the idle time
    with server.app.state.database.transaction() as conn:
        conn.execute(update(sessions).where(*where).values(expires_at=soon))
    ok(reserve(api, tenant, col, token), 201)
    with server.app.state.database.read() as conn:
        slid = conn.execute(select(s.expires_at).where(*where)).scalar_one()
    idle = timedelta(minutes=server.settings.session_idle_minutes)
    assert _utc(slid) > datetime.now(UTC) + idle - timedelta(minutes=1)
    # A refused press (over the limit) writes nothing, the slide included.
    with server.app.state.database.transaction() as conn:
        conn.execute(update(sessions).where(*where).values(expires_at=soon))
    refused = reserve(api, tenant, col, token, quantity=2)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "over_limit"
    with server.app.state.database.read() as conn:
        kept = conn.execute(select(s.expires_at).where(*where)).scalar_one()
    assert _utc(kept) == soon


def test_the_sandbox_approval_answers_the_reservation_as_its_callback_left_it(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    col = make_collection(server, tenant, edition=2)
    token, _ = buyer(api, tenant)
    made = ok(reserve(api, tenant, col, token, quantity=2), 201)
    paid = sandbox_pay(api, made["payment_url"])
    assert paid.status_code == 200, paid.text
    assert 'name="outcome"' not in paid.text  # paid: the page takes no more money
    found = reservation(api, tenant, made["reservation_id"], token)
    assert (found["status"], found["serials"]) == ("assigned", [1, 2])
    # Approving again is refused by the page, and changes nothing.
    again = api.http.post(made["payment_url"], data={"outcome": "approve"})
    assert again.status_code == 409
    assert reservation(api, tenant, made["reservation_id"], token)["serials"] == [1, 2]
    assert drop(api, tenant, col)["minted"] == 2
    audit_clean(server, tenant)
