"""Which confirmed anchor covers one a reorganisation took away: the smallest newer one on
the same contract, none on another contract or below it."""

from __future__ import annotations

from tokenmall.domain.log.anchors import covered_by


def test_the_smallest_newer_anchor_on_the_same_contract_covers() -> None:
    confirmed = [(3, "0xa"), (9, "0xa"), (7, "0xa"), (5, "0xb")]
    assert covered_by(4, "0xa", confirmed) == 7
    assert covered_by(4, "0xb", confirmed) == 5
    assert covered_by(9, "0xa", confirmed) is None
    assert covered_by(6, "0xb", confirmed) is None
    assert covered_by(1, "0xc", confirmed) is None
