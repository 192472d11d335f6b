"""Payouts and the reconciliation's comparison on the in-memory unit of work: an approval
through the channel holds the cash until the channel answers; a success pays it out, a
failure returns it once; a manual payout keeps its reference; ``compare`` classifies each
line and puts the mismatches first."""

from __future__ import annotations

from fakes import FakeUnitOfWork
from test_withdrawals import ASKER, FIRST, NOW, TENANT, ask, mall, where

from tokenmall.domain.ledger import commands as c
from tokenmall.domain.mall.payouts import (
    BillKind,
    BillLine,
    Outcome,
    PayoutResult,
    PayoutStatus,
)
from tokenmall.domain.mall.withdrawals import WithdrawalStatus
from tokenmall.services.mall import payouts, withdrawals
from tokenmall.services.mall.reconciliation import compare


def with_payee(cash: int = 100_000) -> FakeUnitOfWork:
    uow = mall(cash)
    uow.payouts.put_payee(
        TENANT, ASKER.subject_id, channel="wechat", account_masked="o_a***_1", sealed=b"s", now=NOW
    )
    return uow


def approved(uow: FakeUnitOfWork, amount: str = "10.00") -> tuple[str, str]:
    wid = ask(uow, amount)
    with uow:
        done = withdrawals.approve(uow, FIRST, TENANT, wid, NOW, through_channel=True)
    assert done.status == WithdrawalStatus.PAYING
    made = payouts.payout_of(uow, TENANT, wid)
    assert made is not None
    assert made.status == PayoutStatus.PROCESSING
    return wid, made.payout_id


def test_a_payout_that_succeeds_pays_the_held_cash_out() -> None:
    uow = with_payee()
    wid, pid = approved(uow)
    assert uow.cash.held[where(ASKER)] == 1_000  # held until the channel answers
    with uow:
        payouts.apply(uow, TENANT, pid, PayoutResult(PayoutStatus.PROCESSING), NOW)
    assert uow.cash.held[where(ASKER)] == 1_000
    with uow:
        done = payouts.apply(uow, TENANT, pid, PayoutResult(PayoutStatus.SUCCEEDED, "wx1"), NOW)
    assert (done.status, done.channel_ref, done.attempts) == ("succeeded", "wx1", 2)
    assert uow.cash.held[where(ASKER)] == 0
    assert uow.cash.paid_out[where(ASKER)] == 1_000
    found = uow.withdrawals.get(TENANT, wid)
    assert found is not None
    assert found.status == WithdrawalStatus.PAID
    assert found.decided_by == FIRST.subject_id


def test_a_failed_payout_returns_the_cash_once() -> None:
    uow = with_payee()
    wid, pid = approved(uow)
    failed = PayoutResult(PayoutStatus.FAILED, reason="account closed")
    with uow:
        payouts.apply(uow, TENANT, pid, failed, NOW)
    assert uow.cash.cash[where(ASKER)] == 100_000
    assert uow.cash.held[where(ASKER)] == 0
    found = uow.withdrawals.get(TENANT, wid)
    assert found is not None
    assert (found.status, found.reason) == (WithdrawalStatus.FAILED, "account closed")
    releases = [x for x in uow.cash.commands if isinstance(x, c.ReleaseWithdrawal)]
    assert len(releases) == 1
    before = state(uow)
    with uow:  # a late answer (or a retry) changes nothing
        again = payouts.apply(uow, TENANT, pid, PayoutResult(PayoutStatus.SUCCEEDED), NOW)
    assert again.status == PayoutStatus.FAILED
    assert state(uow) == before


def state(uow: FakeUnitOfWork) -> tuple[object, ...]:
    """Balances, ledger commands, withdrawals and payouts (not the count of locks taken)."""
    cash = uow.cash
    return (
        dict(cash.cash),
        dict(cash.held),
        dict(cash.paid_out),
        list(cash.commands),
        dict(uow.withdrawals.rows),
        dict(uow.payouts.rows),
    )


def test_no_payee_account_or_a_reference_pays_by_hand() -> None:
    uow = mall(100_000)
    wid = ask(uow, "3.00")
    with uow:
        done = withdrawals.approve(uow, FIRST, TENANT, wid, NOW, through_channel=True)
    assert done.status == WithdrawalStatus.PAID
    made = payouts.payout_of(uow, TENANT, wid)
    assert made is not None
    assert (made.channel, made.reference, made.status) == ("manual", None, "succeeded")
    uow = with_payee()
    wid = ask(uow, "4.00")
    with uow:
        done = withdrawals.approve(
            uow, FIRST, TENANT, wid, NOW, through_channel=True, manual_reference=" BANK-1 "
        )
    assert done.status == WithdrawalStatus.PAID
    made = payouts.payout_of(uow, TENANT, wid)
    assert made is not None
    assert (made.channel, made.reference) == ("manual", "BANK-1")
    assert uow.cash.paid_out[where(ASKER)] == 400


def test_compare_classifies_each_line_mismatches_first() -> None:
    pay, refund = BillKind.PAYMENT, BillKind.REFUND
    bill = [
        BillLine(pay, "pay_a", 1_000, "t1"),
        BillLine(pay, "pay_b", 2_000, "t2"),
        BillLine(pay, "pay_c", 500, "t3"),
        BillLine(refund, "ref_a", 1_000, "r1"),
    ]
    ledger = [
        BillLine(pay, "pay_a", 1_000),
        BillLine(pay, "pay_b", 2_001),
        BillLine(pay, "pay_d", 700, "ours"),
        BillLine(refund, "ref_a", 1_000),
    ]
    found = [
        (x.outcome, x.kind, x.reference, x.bill_fen, x.ledger_fen) for x in compare(bill, ledger)
    ]
    assert found == [
        (Outcome.MISSING_IN_LEDGER, pay, "pay_c", 500, None),
        (Outcome.MISSING_AT_CHANNEL, pay, "pay_d", None, 700),
        (Outcome.AMOUNT_DIFFERS, pay, "pay_b", 2_000, 2_001),
        (Outcome.MATCHED, pay, "pay_a", 1_000, 1_000),
        (Outcome.MATCHED, refund, "ref_a", 1_000, 1_000),
    ]
    assert compare([], []) == []
    # a payment booked twice is added up: it differs instead of matching
    twice = compare([BillLine(pay, "p", 100)], [BillLine(pay, "p", 100), BillLine(pay, "p", 100)])
    assert [(x.outcome, x.bill_fen, x.ledger_fen) for x in twice] == [
        (Outcome.AMOUNT_DIFFERS, 100, 200)
    ]
    # a payment and a refund with the same reference are different lines
    same = compare([BillLine(pay, "x", 1)], [BillLine(refund, "x", 1)])
    assert [x.outcome for x in same] == [Outcome.MISSING_IN_LEDGER, Outcome.MISSING_AT_CHANNEL]
