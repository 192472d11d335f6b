"""Rule 8: shares, levels and the leaderboard — derived from balances, never stored."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

from tokenmall.domain.economy.params import Params
from tokenmall.domain.economy.state import Holder


def shares(params: Params, holder: Holder) -> int:
    """One share per ``share_unit`` of cumulative spend with new money."""
    return holder.spend // params.share_unit_fen


def level(params: Params, holder: Holder) -> str:
    return params.level_for(shares(params, holder))


@dataclass(frozen=True, slots=True)
class Rank:
    rank: int
    holder: str
    units: int


def leaderboard(holders: Iterable[Holder], limit: int = 10) -> list[Rank]:
    """Holders ranked by points; on a tie, whoever reached their balance first ranks higher."""
    top = heapq.nsmallest(
        limit,
        (h for h in holders if h.points > 0),
        key=lambda h: (-h.points, h.points_seq, h.name),
    )
    return [Rank(i, h.name, h.points) for i, h in enumerate(top, start=1)]
