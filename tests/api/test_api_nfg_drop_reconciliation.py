"""The drop's (首发) money in the daily reconciliation, on SQLite and PostgreSQL: a reservation
paid on the sandbox's page is on the sandbox's bill and in the ledger's side, so it reconciles
as matched (and money that came after its reservation expired, given straight back, matches
as a payment and its refund); a drop payment the channel never reported is missing at the
channel; the report is shown by the reconciliations API."""

from __future__ import annotations

import uuid
from typing import Any

from mall_api import Api, TenantFixture, ok
from orders_helpers import audit_clean, sandbox_pay, signed_webhook
from test_api_nfg_drop import buyer, expire_now, make_collection, reservation, reserve
from test_api_wechat_pay import registry_of_app

from tokenmall import bootstrap
from tokenmall.domain.mall.payouts import BillKind, Outcome
from tokenmall.services.mall import reconciliation
from tokenmall.services.mall.settling import BUSINESS_TZ
from tokenmall.services.mall.uow import Database, utc_now

PRICE = 3000


def _payment_id(made: dict[str, Any]) -> str:
    return "pay_" + made["reservation_id"].split("_", 1)[1]


def _sandbox_day(server: Any, t: TenantFixture) -> tuple[str, Any]:
    db = Database(server.app.state.database.engine)
    sources = bootstrap.bill_sources(db, registry_of_app(server))
    now = utc_now()
    day = now.astimezone(BUSINESS_TZ).date()
    (done,) = [
        one
        for one in reconciliation.reconcile(db, sources, t.tenant_id, day, now)
        if one.report.channel == "sandbox"
    ]
    return day.isoformat(), done


def test_a_paid_drop_reservation_reconciles_as_matched(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    col = make_collection(server, t, edition=3, price=PRICE)
    token, _ = buyer(api, t)
    made = ok(reserve(api, t, col, token), 201)
    assert sandbox_pay(api, made["payment_url"]).status_code == 200
    assert reservation(api, t, made["reservation_id"], token)["status"] == "assigned"
    late_token, _ = buyer(api, t)
    late = ok(reserve(api, t, col, late_token), 201)
    expire_now(server, t, late["reservation_id"])
    assert sandbox_pay(api, late["payment_url"]).status_code == 200
    assert reservation(api, t, late["reservation_id"], late_token)["status"] == "refunded"

    key, done = _sandbox_day(server, t)
    lines = {(line.kind, line.reference): line for line in done.lines}
    paid = lines[(BillKind.PAYMENT, _payment_id(made))]
    assert (paid.outcome, paid.bill_fen, paid.ledger_fen) == (Outcome.MATCHED, PRICE, PRICE)
    assert lines[(BillKind.PAYMENT, _payment_id(late))].outcome == Outcome.MATCHED
    refund = lines[(BillKind.REFUND, "rfd_" + late["reservation_id"].split("_", 1)[1])]
    assert (refund.outcome, refund.bill_fen, refund.ledger_fen) == (Outcome.MATCHED, PRICE, PRICE)
    assert done.report.mismatches == 0
    assert done.report.bill_total_fen == done.report.ledger_total_fen
    shown = ok(api.get(t.path(f"/reconciliations/{key}"), t.admin_token))
    assert _payment_id(made) in str(shown)
    audit_clean(server, t)


def test_a_drop_payment_missing_at_the_channel_is_reported(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    col = make_collection(server, t, edition=2, price=PRICE)
    token, _ = buyer(api, t)
    made = ok(reserve(api, t, col, token), 201)
    event = {  # booked by a callback, but never approved on the sandbox's page
        "event_id": f"evt_{uuid.uuid4().hex}",
        "type": "payment.succeeded",
        "payment_ref": made["payment_url"].rsplit("/", 1)[1],
        "amount": made["amount"],
    }
    assert signed_webhook(api, server, event).status_code == 200
    assert reservation(api, t, made["reservation_id"], token)["status"] == "assigned"

    key, done = _sandbox_day(server, t)
    (line,) = [x for x in done.lines if x.reference == _payment_id(made)]
    assert (line.outcome, line.bill_fen, line.ledger_fen) == (
        Outcome.MISSING_AT_CHANNEL,
        None,
        PRICE,
    )
    assert done.report.missing_at_channel == 1
    assert done.report.mismatches == 1
    shown = ok(api.get(t.path(f"/reconciliations/{key}"), t.admin_token))
    assert "missing_at_channel" in str(shown)
    assert _payment_id(made) in str(shown)
