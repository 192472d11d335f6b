"""Fees, royalties and price bands in exact integer arithmetic (fen and ``Fraction``s)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True, slots=True)
class Split:
    """Where a trade's price goes: ``fee`` to the platform, ``royalty`` to the issuer, the
    rest (``proceeds``) to the seller. All fen; they add up to ``price``."""

    price: int
    fee: int
    royalty: int

    @property
    def proceeds(self) -> int:
        return self.price - self.fee - self.royalty


def rate_of(price: int, rate: Fraction) -> int:
    """``floor(price × rate)`` fen."""
    return price * rate.numerator // rate.denominator


def split(price: int, fee_rate: Fraction, royalty_rate: Fraction) -> Split:
    """A trade at ``price`` fen: fee and royalty each floored (the seller keeps the rest)."""
    return Split(price, rate_of(price, fee_rate), rate_of(price, royalty_rate))


def within_band(price: int, reference: int, band: Fraction | None) -> bool:
    """``ref × (1 − band) ≤ price ≤ ref × (1 + band)``, exactly (edges included); no band:
    always."""
    if band is None:
        return True
    exact = Fraction(price)
    return reference * (1 - band) <= exact <= reference * (1 + band)


def band_limits(reference: int, band: Fraction) -> tuple[int, int]:
    """The lowest and highest whole-fen prices inside the band (for the pages' hints)."""
    low = reference * (1 - band)
    high = reference * (1 + band)
    return -((-low.numerator) // low.denominator), high.numerator // high.denominator
