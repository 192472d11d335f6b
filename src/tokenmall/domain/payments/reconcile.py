"""Reconciliation (对账): a channel's bill of a day against the ledger's records of that day.

Both sides are lists of entries ``(kind, ref, amount_fen)``: ``kind`` is ``"payment"`` or
``"refund"``; ``ref`` is the key both sides know (a payment's reference at the channel, which
is our ``out_trade_no``; a refund's id, which is the channel's ``out_request_no`` /
``out_refund_no``); ``amount_fen`` is positive fen. ``reconcile`` pairs them by
``(kind, ref)`` and classifies each pair:

* ``matched``: on both sides with the same amount;
* ``amount_differs``: on both sides with different amounts;
* ``missing_in_ledger``: the channel moved money the ledger does not know of;
* ``missing_at_channel``: the ledger booked money the channel does not show.

Several entries of one side with the same ``(kind, ref)`` are added up first, so a payment
booked twice shows as ``amount_differs``, never as matched. The answer is sorted by
``(kind, ref)`` and does not depend on the order of either input.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

EntryKind = Literal["payment", "refund"]
KINDS: tuple[str, ...] = ("payment", "refund")


class Status(StrEnum):
    MATCHED = "matched"
    MISSING_IN_LEDGER = "missing_in_ledger"
    MISSING_AT_CHANNEL = "missing_at_channel"
    AMOUNT_DIFFERS = "amount_differs"


@dataclass(frozen=True, slots=True)
class ChannelEntry:
    """A line of the channel's bill."""

    kind: EntryKind
    ref: str
    amount_fen: int


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """A payment or refund the ledger booked."""

    kind: EntryKind
    ref: str
    amount_fen: int


@dataclass(frozen=True, slots=True)
class ReconLine:
    """One ``(kind, ref)``: its status and each side's amount (None where it is missing)."""

    kind: EntryKind
    ref: str
    status: Status
    channel_fen: int | None
    ledger_fen: int | None

    @property
    def difference_fen(self) -> int:
        """The channel's amount less the ledger's (a missing side counts as zero)."""
        return (self.channel_fen or 0) - (self.ledger_fen or 0)


@dataclass(frozen=True, slots=True)
class Reconciliation:
    lines: tuple[ReconLine, ...]

    def of(self, status: Status) -> tuple[ReconLine, ...]:
        return tuple(line for line in self.lines if line.status is status)

    def counts(self) -> dict[Status, int]:
        """How many lines of each status (every status present, zero when none)."""
        found = dict.fromkeys(Status, 0)
        for line in self.lines:
            found[line.status] += 1
        return found

    @property
    def all_matched(self) -> bool:
        return all(line.status is Status.MATCHED for line in self.lines)


def _totals(
    entries: Iterable[ChannelEntry | LedgerEntry], side: str
) -> dict[tuple[EntryKind, str], int]:
    totals: dict[tuple[EntryKind, str], int] = {}
    for entry in entries:
        if entry.kind not in KINDS:
            raise ValueError(f"{side} entry {entry.ref!r}: kind must be payment or refund")
        if isinstance(entry.amount_fen, bool) or not isinstance(entry.amount_fen, int):
            raise TypeError(f"{side} entry {entry.ref!r}: amount_fen must be an int of fen")
        if entry.amount_fen <= 0:
            raise ValueError(f"{side} entry {entry.ref!r}: amount_fen must be positive")
        key: tuple[EntryKind, str] = (entry.kind, entry.ref)
        totals[key] = totals.get(key, 0) + entry.amount_fen
    return totals


def classify(channel_fen: int | None, ledger_fen: int | None) -> Status:
    """The status of one key from the two sides' totals (None: absent on that side)."""
    if channel_fen is None and ledger_fen is None:
        raise ValueError("a key is on at least one side")
    if ledger_fen is None:
        return Status.MISSING_IN_LEDGER
    if channel_fen is None:
        return Status.MISSING_AT_CHANNEL
    return Status.MATCHED if channel_fen == ledger_fen else Status.AMOUNT_DIFFERS


def reconcile(channel: Iterable[ChannelEntry], ledger: Iterable[LedgerEntry]) -> Reconciliation:
    """Every ``(kind, ref)`` of either side once, classified, sorted by ``(kind, ref)``."""
    at_channel = _totals(channel, "channel")
    in_ledger = _totals(ledger, "ledger")
    lines = []
    for key in sorted(at_channel.keys() | in_ledger.keys()):
        kind, ref = key
        channel_fen, ledger_fen = at_channel.get(key), in_ledger.get(key)
        lines.append(
            ReconLine(kind, ref, classify(channel_fen, ledger_fen), channel_fen, ledger_fen)
        )
    return Reconciliation(tuple(lines))
