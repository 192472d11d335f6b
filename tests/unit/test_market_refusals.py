"""Every refusal code of market.md exists, with a Chinese and an English sentence, and maps to
an error kind the edges turn into a 4xx."""

from __future__ import annotations

import re

from tokenmall.domain.errors import DomainError, ErrorKind
from tokenmall.domain.market import Code, MarketRefused
from tokenmall.domain.market.refusals import SENTENCES, sentence

CONTRACT = [
    "not_owner",
    "token_locked",
    "kyc_required",
    "profile_forbids",
    "hold_period",
    "price_band",
    "holder_limit",
    "halted",
    "self_trade",
    "insufficient_funds",
    "market_closed",
    "not_found",
    "expired",
    "invalid_input",
]


def test_the_codes_are_exactly_the_contracts() -> None:
    assert [c.value for c in Code] == CONTRACT


def test_each_code_has_both_sentences() -> None:
    for code in Code:
        zh, en = SENTENCES[code]
        assert re.search(r"[\u4e00-\u9fff]", zh), code
        assert en[0].isupper()
        assert en.endswith(".")
        assert sentence(code) == zh
        assert sentence(code.value, "en") == en


def test_refusals_are_domain_errors_with_kinds() -> None:
    refused = MarketRefused(Code.PRICE_BAND, "reference 10000 fen", "price")
    assert isinstance(refused, DomainError)
    assert refused.kind is ErrorKind.CONFLICT
    assert str(refused).startswith("price_band: ")
    assert refused.field == "price"
    assert MarketRefused(Code.NOT_FOUND).kind is ErrorKind.NOT_FOUND
    assert MarketRefused(Code.INVALID_INPUT).kind is ErrorKind.INVALID
    assert MarketRefused(Code.PROFILE_FORBIDS).kind is ErrorKind.FORBIDDEN
    assert MarketRefused(Code.HALTED).zh == "该藏品已停牌。"
