"""The drop's payment callbacks group-committed through the tenant's unit writer, on SQLite and
PostgreSQL: callbacks arriving at once are committed in batches, a late payment among them is
refunded automatically in a transaction of its own, a reservation held by another transaction
is waited for outside the writer, and the books stay balanced."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from mall_api import Api, TenantFixture, ok
from orders_helpers import audit_clean, economy, signed_webhook
from sqlalchemy import update
from test_api_nfg_drop import _all_at_once, buyer, drop, expire_now, make_collection, reserve

from tokenmall.adapters.db.nfg.tables import nfg_reservations
from tokenmall.services.writers.units import writers_for

PRICE = 5000


def _event(made: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": f"evt_{uuid.uuid4().hex}",
        "type": "payment.succeeded",
        "payment_ref": made["payment_url"].rsplit("/", 1)[1],
        "amount": made["amount"],
    }


def test_callbacks_at_once_are_grouped_and_a_late_one_is_refunded(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    col = make_collection(server, tenant, edition=6, limit=1, price=PRICE)
    made = [ok(reserve(api, tenant, col, buyer(api, tenant)[0]), 201) for _ in range(6)]
    late = made[2]
    expire_now(server, tenant, late["reservation_id"])
    before = economy(server, tenant)
    answers = _all_at_once(
        server.base_url,
        [lambda a, m=m: signed_webhook(a, server, _event(m)) for m in made],
    )
    assert [a.status_code for a in answers] == [200] * 6, [a.text for a in answers]
    outcomes = {a.json()["reservation_id"]: a.json() for a in answers}
    refunded = outcomes.pop(late["reservation_id"])
    assert (refunded["reservation_status"], refunded["payment_status"]) == ("refunded", "refunded")
    assert {o["reservation_status"] for o in outcomes.values()} == {"assigned"}
    serials = sorted(int(o["outcome"].rsplit(" ", 1)[1]) for o in outcomes.values())
    assert serials == [1, 2, 3, 4, 5]
    after = economy(server, tenant)
    assert after["revenue"] - before["revenue"] == 5 * PRICE
    assert after["escrow"] == before["escrow"]
    assert after["journals"] == before["journals"] + 5 + 2  # five sales, the late one in and out
    figures = drop(api, tenant, col)
    assert (figures["minted"], figures["available"]) == (5, 1)  # the late one's place is back
    writer = writers_for(server.app.state.database.engine).writer(tenant.tenant_id)
    assert writer is not None
    # Every callback went to the writer (the late one left it for a transaction of its own).
    assert writer.units == 6
    assert 1 <= writer.batches <= 6
    audit_clean(server, tenant)


def test_a_reservation_held_by_another_transaction_is_waited_for_outside_the_writer(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    col = make_collection(server, tenant, edition=2, price=PRICE)
    made = ok(reserve(api, tenant, col, tenant.consumer_token), 201)
    r = nfg_reservations.c
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with server.app.state.database.transaction() as conn:
            conn.execute(  # the reservation's row locked (SQLite: the database's write lock)
                update(nfg_reservations)
                .where(r.tenant_id == tenant.tenant_id, r.reservation_id == made["reservation_id"])
                .values(status=r.status)
            )
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    threading.Timer(0.5, release.set).start()
    began = time.monotonic()
    try:
        paid = signed_webhook(api, server, _event(made))
    finally:
        release.set()
        holder.join()
    assert paid.status_code == 200, paid.text
    assert paid.json()["reservation_status"] == "assigned"
    assert time.monotonic() - began >= 0.4  # it waited for the holder, and was not refused
    assert drop(api, tenant, col)["minted"] == 1
    audit_clean(server, tenant)
