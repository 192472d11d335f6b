"""Refunds of orders: requested by the buyer (or made by an admin), then decided.

A refund through a payment channel may not finish at once: the channel answers that it is
processing, and its callback or a query finishes it later (succeeded or failed). A failed
refund is tried again under a new attempt, or abandoned by an admin with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class RefundStatus(StrEnum):
    REQUESTED = "requested"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABANDONED = "abandoned"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Refund:
    tenant_id: str
    refund_id: str
    order_id: str
    payment_id: str | None
    status: RefundStatus
    money_fen: int
    stable_fen: int
    reason: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    adjustment: bool
    provider_ref: str | None
    # Each try at the channel is an attempt: a failed refund's retry is the next attempt, with
    # its own request number at the channel (``channel_refund_no``).
    attempt: int = 1
    failure_reason: str | None = None
    submitted_at: datetime | None = None


def channel_refund_no(refund_id: str, attempt: int) -> str:
    """The refund's number at the channel for ``attempt``: the refund id for the first, then
    ``<refund id>-<attempt>`` (a channel never reuses a failed refund's number)."""
    if attempt < 1:
        raise ValueError("attempt must be at least 1")
    return refund_id if attempt == 1 else f"{refund_id}-{attempt}"


def refund_of_channel_no(number: str) -> tuple[str, int]:
    """The refund id and attempt ``channel_refund_no`` made ``number`` from."""
    base, sep, tail = number.rpartition("-")
    if sep and tail.isdigit() and int(tail) >= 2:
        return base, int(tail)
    return number, 1
