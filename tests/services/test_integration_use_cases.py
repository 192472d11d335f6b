"""The integration use cases on the in-memory unit of work: paid, completed, refunded."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fakes import FakeUnitOfWork

from tokenmall.domain.errors import DomainError
from tokenmall.domain.mall.people import Role
from tokenmall.services.mall import integration, integration_closing
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import Conflict, Forbidden, InvalidInput
from tokenmall.services.mall.integration import Answer, ExternalUserIn
from tokenmall.web.api.schemas_integration import VIEWS

TENANT = "t1"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ADMIN = Principal("api_key", "cred-1", "usr-admin", TENANT, Role.ADMIN)
CONSUMER = Principal("session", "cred-2", "usr-buyer", TENANT, Role.CONSUMER)


def pay(
    uow: FakeUnitOfWork,
    order: str = "O-1",
    *,
    amount: str = "100.00",
    contribution: str | None = None,
    buyer: str = "U1",
    referrer: str | None = None,
    request_hash: str = "h-paid",
    caller: Principal = ADMIN,
) -> Answer:
    with uow:
        uow.answer_under(TENANT, caller.scope, f"key-{order}-{request_hash}", "r")
        return integration.paid(
            uow,
            caller,
            TENANT,
            order,
            user=ExternalUserIn(buyer, "", referrer),
            amount=amount,
            contribution=contribution,
            request_hash=request_hash,
            now=NOW,
            views=VIEWS,
        )


def test_paid_writes_the_order_its_journals_its_event_and_its_answer() -> None:
    uow = FakeUnitOfWork(grant_on="paid")
    answer = pay(uow, referrer="R1")
    assert answer.status == 201
    assert not answer.replayed
    body = json.loads(answer.body)
    assert body["event"] == "paid"
    assert body["amount"] == "100.00"
    assert body["rewards_booked"] is True
    assert body["rewards"]["revenue"] == "85.00"  # 100.00 - 10.00 pool - 5.00 dividend
    assert body["rewards"]["buyer_points"] == "100.00000000"
    order = uow.integration.orders[(TENANT, "O-1")]
    assert order.amount_fen == 10_000
    assert order.booked
    assert [name for _, _, name in uow.ledger.journals] == ["Join", "ReceivePayment", "Purchase"]
    assert [kind for _, kind, _ in uow.outbox.events] == ["order.paid"]
    assert uow.integration.events[(TENANT, "O-1", "paid")].body == answer.body
    stored = uow.answers.stored[(TENANT, ADMIN.scope, "key-O-1-h-paid")]
    assert (stored.status_code, stored.body) == (201, answer.body)
    buyer = uow.integration.users[(TENANT, "U1")]
    referrer = uow.integration.users[(TENANT, "R1")]
    assert buyer.referrer_user_id == referrer.user_id
    assert uow.commits == 1


def test_paid_at_grant_on_completed_only_takes_the_payment() -> None:
    uow = FakeUnitOfWork(grant_on="completed")
    body = json.loads(pay(uow).body)
    assert body["rewards_booked"] is False
    assert body["rewards"] is None
    assert [name for _, _, name in uow.ledger.journals] == ["ReceivePayment"]


def test_the_same_event_again_replays_its_answer_and_changes_nothing() -> None:
    uow = FakeUnitOfWork()
    first = pay(uow)
    before = uow.snapshot()
    again = pay(uow)
    assert again == Answer(first.status, first.body, True)
    assert uow.snapshot() == before


def test_the_same_event_with_another_body_is_a_conflict_and_changes_nothing() -> None:
    uow = FakeUnitOfWork()
    pay(uow)
    before = uow.snapshot()
    with pytest.raises(Conflict):
        pay(uow, amount="99.00", request_hash="h-other")
    assert uow.snapshot() == before


@pytest.mark.parametrize(
    ("changes", "refusal"),
    [
        ({"amount": "0"}, InvalidInput),
        ({"amount": "1.001"}, InvalidInput),
        ({"amount": "10.00", "contribution": "10.01"}, InvalidInput),
        ({"buyer": "bad id"}, InvalidInput),
        ({"referrer": "U1"}, InvalidInput),
        ({"caller": CONSUMER}, Forbidden),
    ],
)
def test_bad_input_changes_nothing(changes: dict[str, object], refusal: type[DomainError]) -> None:
    uow = FakeUnitOfWork()
    pay(uow, "O-0")
    before = uow.snapshot()
    with pytest.raises(refusal):
        pay(uow, **changes)  # type: ignore[arg-type]
    assert uow.snapshot() == before


def test_completed_books_the_rewards_and_answers_once() -> None:
    uow = FakeUnitOfWork(grant_on="completed")
    pay(uow)
    with uow:
        answer = integration_closing.completed(
            uow, ADMIN, TENANT, "O-1", request_hash="h-done", now=NOW, views=VIEWS
        )
    body = json.loads(answer.body)
    assert (answer.status, body["state"], body["rewards_booked"]) == (200, "completed", True)
    assert body["rewards"]["pool_contribution"] == "10.00"
    assert [name for _, _, name in uow.ledger.journals] == [
        "ReceivePayment",
        "Purchase",
        "Complete",
    ]
    assert [kind for _, kind, _ in uow.outbox.events] == ["order.paid", "order.completed"]
    before = uow.snapshot()
    with uow:
        again = integration_closing.completed(
            uow, ADMIN, TENANT, "O-1", request_hash="h-done", now=NOW, views=VIEWS
        )
    assert again == Answer(200, answer.body, True)
    assert uow.snapshot() == before


def test_completed_before_paid_is_a_conflict_and_changes_nothing() -> None:
    uow = FakeUnitOfWork()
    before = uow.snapshot()
    with pytest.raises(Conflict), uow:
        integration_closing.completed(
            uow, ADMIN, TENANT, "O-9", request_hash="h", now=NOW, views=VIEWS
        )
    assert uow.snapshot() == before


def test_refunded_before_booking_returns_the_whole_payment() -> None:
    uow = FakeUnitOfWork(grant_on="completed")
    pay(uow)
    with uow:
        answer = integration_closing.refunded(
            uow,
            ADMIN,
            TENANT,
            "O-1",
            amount=None,
            adjustment=False,
            request_hash="h-refund",
            now=NOW,
            views=VIEWS,
        )
    body = json.loads(answer.body)
    assert (body["state"], body["refunded"]) == ("refunded", "100.00")
    assert uow.ledger.journals[-1][2] == "RefundPayment"
    kind, data = uow.outbox.events[-1][1:]
    assert (kind, data["adjustment"]) == ("order.refunded", False)


def test_refunded_after_booking_needs_an_adjustment_and_a_refusal_changes_nothing() -> None:
    uow = FakeUnitOfWork(grant_on="paid")
    pay(uow)
    before = uow.snapshot()
    with pytest.raises(Conflict), uow:
        integration_closing.refunded(
            uow,
            ADMIN,
            TENANT,
            "O-1",
            amount="10.00",
            adjustment=False,
            request_hash="h",
            now=NOW,
            views=VIEWS,
        )
    assert uow.snapshot() == before
    with uow:
        answer = integration_closing.refunded(
            uow,
            ADMIN,
            TENANT,
            "O-1",
            amount="10.00",
            adjustment=True,
            request_hash="h",
            now=NOW,
            views=VIEWS,
        )
    assert json.loads(answer.body)["refunded"] == "10.00"
    assert uow.ledger.journals[-1][2] == "RefundBooked"
