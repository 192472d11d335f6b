"""Money around the economy through the ledger: escrow, refunds, commissions, clawback debts,
withdrawals. Every step is one balanced journal; refusals change nothing; audit stays clean."""

from __future__ import annotations

from fractions import Fraction

import pytest
from ledger_helpers import holder, snapshot, unbalanced

from tokenmall.adapters.db.store import Store
from tokenmall.domain.economy import Params
from tokenmall.domain.errors import DomainError, InsufficientBalance, RuleViolation
from tokenmall.domain.ledger import commands as c
from tokenmall.services.ledger.audit import audit
from tokenmall.services.ledger.execute import execute

COMMISSIONS = Params(commission_rates=(Fraction(5, 100), Fraction(2, 100)))


def state(store: Store, t: str) -> dict[str, int]:
    with store.read() as conn:
        s, _ = store.load_state(conn, t)
    names = ("escrow", "money_in", "revenue", "commissions_frozen", "commissions_paid")
    more = ("withdrawing", "withdrawn", "receivables", "cash_out", "pool")
    return {n: getattr(s, n) for n in (*names, *more)}


def clean(store: Store, t: str) -> None:
    assert unbalanced(store, t) == []
    (report,) = audit(store, t)
    assert report.findings == []


def pay(store: Store, t: str, ref: str, user: str = "bob", fen: int = 10_000) -> None:
    execute(
        store,
        c.ReceivePayment(
            tenant_id=t, idempotency_key=f"{ref}:pay", user=user, order_ref=ref, amount_fen=fen
        ),
    )


def book(store: Store, t: str, ref: str, user: str = "bob", fen: int = 10_000) -> dict:
    return execute(
        store,
        c.Purchase(
            tenant_id=t,
            idempotency_key=f"{ref}:book",
            user=user,
            amount_fen=fen,
            order_ref=ref,
            from_escrow=True,
        ),
    )


def test_payment_waits_in_escrow_then_books_from_it(store: Store, tenant: str) -> None:
    pay(store, tenant, "o1")
    assert state(store, tenant)["escrow"] == 10_000
    assert state(store, tenant)["money_in"] == 10_000
    clean(store, tenant)
    result = book(store, tenant, "o1")
    after = state(store, tenant)
    # the money came from escrow, counted in once
    assert after["escrow"] == 0
    assert after["money_in"] == 10_000
    assert after["pool"] == 3_000
    assert after["revenue"] == 4_000
    assert result["order_ref"] == "o1"
    postings = [p for p in snapshot(store, tenant)["postings"] if p[1] == result["journal_id"]]
    assert ("order_escrow", -10_000) in [(p[3], p[6]) for p in postings]
    clean(store, tenant)


def test_booking_more_than_escrow_holds_is_refused(store: Store, tenant: str) -> None:
    pay(store, tenant, "o1", fen=5_000)
    before = snapshot(store, tenant)
    with pytest.raises(InsufficientBalance):
        book(store, tenant, "o1", fen=10_000)
    assert snapshot(store, tenant) == before


def test_refund_before_booking_returns_escrow(store: Store, tenant: str) -> None:
    pay(store, tenant, "o1")
    refund = c.RefundPayment(
        tenant_id=tenant,
        idempotency_key="o1:refund",
        user="bob",
        order_ref="o1",
        amount_fen=10_000,
    )
    first = execute(store, refund)
    assert execute(store, refund) == first  # a replay changes nothing
    after = state(store, tenant)
    assert after["escrow"] == 0
    assert after["money_in"] == 0
    with pytest.raises(InsufficientBalance):
        execute(
            store,
            c.RefundPayment(
                tenant_id=tenant,
                idempotency_key="o1:again",
                user="bob",
                order_ref="o1",
                amount_fen=1,
            ),
        )
    clean(store, tenant)


def test_refund_of_a_booked_order_comes_from_revenue_and_keeps_rewards(
    store: Store, tenant: str
) -> None:
    pay(store, tenant, "o1")
    book(store, tenant, "o1")
    points = holder(store, tenant, "bob")["points"]  # type: ignore[index]
    execute(
        store,
        c.RefundBooked(
            tenant_id=tenant,
            idempotency_key="o1:refund",
            user="bob",
            order_ref="o1",
            amount_fen=4_000,
            approved_by="admin",
        ),
    )
    after = state(store, tenant)
    assert after["revenue"] == 0
    assert after["money_in"] == 6_000
    assert after["pool"] == 3_000
    assert holder(store, tenant, "bob")["points"] == points  # type: ignore[index]
    before = snapshot(store, tenant)
    with pytest.raises(InsufficientBalance):  # revenue is empty now
        execute(
            store,
            c.RefundBooked(
                tenant_id=tenant,
                idempotency_key="o1:more",
                user="bob",
                order_ref="o1",
                amount_fen=1,
                approved_by="admin",
            ),
        )
    assert snapshot(store, tenant) == before
    clean(store, tenant)


@pytest.mark.parametrize("tenant", [COMMISSIONS], indirect=True)
def test_commissions_freeze_release_and_clawback_into_debt(store: Store, tenant: str) -> None:
    execute(store, c.Join(tenant_id=tenant, idempotency_key="j1", user="bob", referrer="amy"))
    execute(store, c.Join(tenant_id=tenant, idempotency_key="j2", user="amy", referrer="cat"))
    pay(store, tenant, "o1")
    booked = book(store, tenant, "o1")
    frozen = execute(
        store,
        c.FreezeCommissions(
            tenant_id=tenant,
            idempotency_key="o1:freeze",
            buyer="bob",
            order_ref="o1",
            amount_fen=10_000,
            revenue_fen=int(booked["revenue"].replace(".", "")),
        ),
    )
    # 5% to amy (level 1), 2% to cat (level 2)
    assert frozen["commissions"] == [
        {"holder": "amy", "amount": "5.00", "level": 1},
        {"holder": "cat", "amount": "2.00", "level": 2},
    ]
    assert state(store, tenant)["commissions_frozen"] == 700
    clean(store, tenant)
    execute(
        store,
        c.ReleaseCommissions(
            tenant_id=tenant,
            idempotency_key="o1:release",
            order_ref="o1",
            payouts=(("amy", 500), ("cat", 200)),
        ),
    )
    assert holder(store, tenant, "amy")["cash"] == 500  # type: ignore[index]
    clean(store, tenant)
    # amy withdraws 4.00 of her 5.00, then the order is clawed back: 1.00 from cash, 4.00 debt
    execute(
        store,
        c.HoldWithdrawal(
            tenant_id=tenant,
            idempotency_key="w1",
            user="amy",
            withdrawal_ref="w1",
            amount_fen=400,
        ),
    )
    taken = execute(
        store,
        c.ClawbackCommissions(
            tenant_id=tenant,
            idempotency_key="o1:clawback",
            order_ref="o1",
            paid=(("amy", 500), ("cat", 200)),
        ),
    )
    assert taken["paid_taken_back"][0] == {
        "holder": "amy",
        "amount": "5.00",
        "from_cash": "1.00",
        "debt": "4.00",
    }
    assert state(store, tenant)["receivables"] == 400
    assert holder(store, tenant, "amy")["cash"] == 0  # type: ignore[index]
    clean(store, tenant)
    # the refused withdrawal's cash comes back, and pays the debt
    execute(
        store,
        c.ReleaseWithdrawal(
            tenant_id=tenant,
            idempotency_key="w1:no",
            user="amy",
            withdrawal_ref="w1",
            amount_fen=400,
        ),
    )
    execute(store, c.RepayDebt(tenant_id=tenant, idempotency_key="d1", user="amy", amount_fen=400))
    assert state(store, tenant)["receivables"] == 0
    clean(store, tenant)


@pytest.mark.parametrize("tenant", [COMMISSIONS], indirect=True)
def test_commissions_above_the_orders_revenue_are_refused(store: Store, tenant: str) -> None:
    execute(store, c.Join(tenant_id=tenant, idempotency_key="j1", user="bob", referrer="amy"))
    pay(store, tenant, "o1")
    book(store, tenant, "o1")
    before = snapshot(store, tenant)
    with pytest.raises(RuleViolation):
        execute(
            store,
            c.FreezeCommissions(
                tenant_id=tenant,
                idempotency_key="o1:freeze",
                buyer="bob",
                order_ref="o1",
                amount_fen=10_000,
                revenue_fen=100,
            ),
        )
    assert snapshot(store, tenant) == before


def test_withdrawal_held_then_paid(store: Store, tenant: str) -> None:
    pay(store, tenant, "o1")
    book(store, tenant, "o1")
    bob = holder(store, tenant, "bob")
    assert bob is not None
    execute(store, c.Sell(tenant_id=tenant, idempotency_key="s", user="bob", units=bob["points"]))
    cash = holder(store, tenant, "bob")["cash"]  # type: ignore[index]
    before = snapshot(store, tenant)
    with pytest.raises(InsufficientBalance):
        execute(
            store,
            c.HoldWithdrawal(
                tenant_id=tenant,
                idempotency_key="w0",
                user="bob",
                withdrawal_ref="w0",
                amount_fen=cash + 1,
            ),
        )
    with pytest.raises(DomainError):
        execute(
            store,
            c.HoldWithdrawal(
                tenant_id=tenant,
                idempotency_key="w0",
                user="bob",
                withdrawal_ref="w0",
                amount_fen=0,
            ),
        )
    assert snapshot(store, tenant) == before
    execute(
        store,
        c.HoldWithdrawal(
            tenant_id=tenant,
            idempotency_key="w1",
            user="bob",
            withdrawal_ref="w1",
            amount_fen=cash,
        ),
    )
    assert state(store, tenant)["withdrawing"] == cash
    execute(
        store,
        c.PayWithdrawal(
            tenant_id=tenant,
            idempotency_key="w1:paid",
            user="bob",
            withdrawal_ref="w1",
            amount_fen=cash,
        ),
    )
    after = state(store, tenant)
    assert after["withdrawing"] == 0
    assert after["withdrawn"] == cash
    assert holder(store, tenant, "bob")["cash"] == 0  # type: ignore[index]
    clean(store, tenant)


def test_stable_points_paid_for_an_order_go_back_on_refund(store: Store, tenant: str) -> None:
    pay(store, tenant, "o1")
    book(store, tenant, "o1")
    bob = holder(store, tenant, "bob")
    assert bob is not None
    units = bob["points"]
    execute(store, c.Convert(tenant_id=tenant, idempotency_key="c", user="bob", units=units))
    stable = holder(store, tenant, "bob")["stable"]  # type: ignore[index]
    execute(
        store,
        c.PayStable(
            tenant_id=tenant,
            idempotency_key="ps",
            user="bob",
            merchant="shop",
            amount_fen=stable,
        ),
    )
    before = snapshot(store, tenant)
    with pytest.raises(InsufficientBalance):
        execute(
            store,
            c.RefundStable(
                tenant_id=tenant,
                idempotency_key="o2:rs",
                user="bob",
                order_ref="o2",
                merchant="shop",
                amount_fen=stable + 1,
            ),
        )
    assert snapshot(store, tenant) == before
    execute(
        store,
        c.RefundStable(
            tenant_id=tenant,
            idempotency_key="o2:rs",
            user="bob",
            order_ref="o2",
            merchant="shop",
            amount_fen=stable,
        ),
    )
    assert holder(store, tenant, "bob")["stable"] == stable  # type: ignore[index]
    assert holder(store, tenant, "bob")["merchant"] is False  # type: ignore[index]
    clean(store, tenant)
