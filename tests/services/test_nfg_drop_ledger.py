"""The ledger commands of a primary NFG sale: ``ReceiveSale`` (money to revenue) and
``SellTo`` (equity points bought back and burned, the payout to the seller) balance, keep the
economy's identities and never lower the price."""

from __future__ import annotations

from decimal import Decimal

from tokenmall.domain.economy.invariants import violations
from tokenmall.domain.economy.params import DEFAULT
from tokenmall.domain.economy.state import EconomyState
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.ledger.batch import Applied
from tokenmall.domain.ledger.codes import JournalCode
from tokenmall.domain.ledger.journal import Posting, balance_by_asset
from tokenmall.services.ledger.book import TenantBook

T = "t1"


def _book() -> TenantBook:
    return TenantBook(T, DEFAULT, 1, EconomyState(), 0, loader=lambda names: {})


def _postings(done: Applied) -> tuple[Posting, ...]:
    assert done.journal is not None
    return done.journal.postings


def _clean(book: TenantBook) -> None:
    assert violations(book.state, DEFAULT.max_supply_units) == []


def test_receive_sale_is_revenue_and_balances() -> None:
    book = _book()
    done = book.apply(
        c.ReceiveSale(
            tenant_id=T, idempotency_key="nfg:r1:sale", user="u1", order_ref="r1", amount_fen=5000
        )
    )
    assert done.result["code"] == str(JournalCode.SALE)
    assert all(v == 0 for v in balance_by_asset(_postings(done)).values())
    assert book.state.revenue == 5000
    assert book.state.money_in == 5000
    _clean(book)


def test_sell_to_pays_the_payee_burns_and_keeps_the_price() -> None:
    book = _book()
    book.apply(c.Purchase(tenant_id=T, idempotency_key="p", user="buyer", amount_fen=100_000))
    units = book.state.holders["buyer"].points // 2
    before = Decimal(book.state.price()[0]) / book.state.price()[1]
    burned = book.state.burned
    done = book.apply(
        c.SellTo(tenant_id=T, idempotency_key="s", user="buyer", units=units, payee="issuer")
    )
    assert done.result["code"] == str(JournalCode.BUYBACK)
    assert done.result["payee"] == "issuer"
    assert all(v == 0 for v in balance_by_asset(_postings(done)).values())
    payout = book.state.holders["issuer"].cash
    assert payout > 0
    assert book.state.holders["buyer"].cash == 0
    assert book.state.burned == burned + units
    after = Decimal(book.state.price()[0]) / book.state.price()[1]
    assert after >= before
    _clean(book)
